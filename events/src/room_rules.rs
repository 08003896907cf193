//! The rules of a room and its people: creating it, joining (a re-join keeps
//! who one was; a full room refuses newcomers), leaving, and deleting the
//! recording.

use crate::aggregate::{
    checked_text, Phase, Recording, RoomInfo, MAX_CHUNK_SECONDS, MAX_NAME_CHARS, MAX_PARTICIPANTS,
    MAX_TITLE_CHARS, MIN_CHUNK_SECONDS,
};
use crate::command::RecordingCommand;
use crate::error::RecordingError;
use crate::event::{RecordingEvent, Role};

impl Recording {
    pub(crate) fn decide_room(
        &self,
        room: Option<&RoomInfo>,
        command: RecordingCommand,
    ) -> Result<Vec<RecordingEvent>, RecordingError> {
        use RecordingCommand as C;
        use RecordingEvent as E;
        let completed = self.phase == Phase::Completed;
        match command {
            C::CreateRoom {
                title,
                host,
                host_name,
                layout,
                chunk_seconds,
                max_participants,
                owner,
            } => {
                let title = checked_text("title", &title, MAX_TITLE_CHARS)?;
                let host_name = checked_text("display name", &host_name, MAX_NAME_CHARS)?;
                if !(MIN_CHUNK_SECONDS..=MAX_CHUNK_SECONDS).contains(&chunk_seconds) {
                    return Err(RecordingError::Invalid(format!(
                        "chunk length must be {MIN_CHUNK_SECONDS} to {MAX_CHUNK_SECONDS} seconds"
                    )));
                }
                if !(1..=MAX_PARTICIPANTS).contains(&max_participants) {
                    return Err(RecordingError::Invalid(format!(
                        "a room holds 1 to {MAX_PARTICIPANTS} participants"
                    )));
                }
                Ok(vec![
                    E::RoomCreated {
                        title,
                        host,
                        layout,
                        chunk_seconds,
                        max_participants,
                        owner,
                    },
                    E::ParticipantJoined {
                        participant: host,
                        display_name: host_name,
                        role: Role::Host,
                    },
                ])
            }

            C::Join {
                participant,
                display_name,
                role,
                invite,
            } => {
                if completed {
                    return Err(RecordingError::SessionCompleted);
                }
                let display_name = checked_text("display name", &display_name, MAX_NAME_CHARS)?;
                let is_host = room.is_some_and(|r| r.host == participant);
                if (role == Role::Host) != is_host {
                    return Err(RecordingError::Invalid(
                        "the host role belongs to the room's host alone".into(),
                    ));
                }
                match self.participants.get(&participant) {
                    Some(p) if p.removed => Err(RecordingError::Removed(participant)),
                    // Already in the room: a duplicate join changes nothing.
                    Some(p) if p.present => Ok(vec![]),
                    // A re-join keeps the identity (and name) the participant had.
                    Some(p) => Ok(vec![E::ParticipantJoined {
                        participant,
                        display_name: p.display_name.clone(),
                        role: p.role,
                    }]),
                    None => {
                        self.check_invite(invite)?;
                        let present = self.participants.values().filter(|p| p.present).count();
                        let max = room.map_or(0, |r| r.max_participants);
                        if present as u32 >= max {
                            return Err(RecordingError::RoomFull(max));
                        }
                        Ok(vec![E::ParticipantJoined {
                            participant,
                            display_name,
                            role,
                        }])
                    }
                }
            }

            C::Leave {
                participant,
                reason,
            } => {
                if completed {
                    return Err(RecordingError::SessionCompleted);
                }
                let p = self.participant(participant)?;
                if !p.present {
                    return Ok(vec![]);
                }
                Ok(vec![E::ParticipantLeft {
                    participant,
                    reason: checked_text("reason", &reason, MAX_TITLE_CHARS)?,
                }])
            }

            C::RemoveParticipant { by, participant } => {
                self.require_host(by)?;
                if room.is_some_and(|r| r.host == participant) {
                    return Err(RecordingError::Invalid(
                        "the host cannot remove itself".into(),
                    ));
                }
                let p = self.participant(participant)?;
                if p.removed {
                    return Ok(vec![]);
                }
                // What it stored stays its recording, as if it had finished.
                let chunk_count = p.finished.unwrap_or_else(|| p.chunk_count());
                let removed = E::ParticipantRemoved {
                    participant,
                    chunk_count,
                };
                if completed {
                    return Ok(vec![removed]);
                }
                // The last one the stopped session waited for may be this one.
                self.with_completion(vec![removed])
            }

            C::IssueInvite { by, max_joins } => {
                self.require_host(by)?;
                if completed {
                    return Err(RecordingError::SessionCompleted);
                }
                if let Some(n) = max_joins.filter(|n| !(1..MAX_PARTICIPANTS).contains(n)) {
                    return Err(RecordingError::Invalid(format!(
                        "an invite admits 1 to {} guests, not {n}",
                        MAX_PARTICIPANTS - 1
                    )));
                }
                Ok(vec![E::InviteIssued {
                    generation: self.invite.generation + 1,
                    max_joins,
                }])
            }

            C::RevokeInvite { by } => {
                self.require_host(by)?;
                if completed {
                    // Nobody joins a completed session anyway.
                    return Err(RecordingError::SessionCompleted);
                }
                if self.invite.revoked {
                    return Ok(vec![]);
                }
                Ok(vec![E::InviteRevoked {
                    generation: self.invite.generation,
                }])
            }
            C::DeleteRecording => {
                if self.phase == Phase::Recording {
                    return Err(RecordingError::StillRecording);
                }
                Ok(vec![E::RecordingDeleted {}])
            }
            C::RecordSweep { .. } => Err(RecordingError::NotDeleted(
                "only a deleted recording is swept",
            )),
            _ => unreachable!("`decide` sends only decide_room's commands here"),
        }
    }

    /// A deleted room refuses everything; deleting it again changes nothing,
    /// and its sweep is recorded once.
    pub(crate) fn decide_deleted(
        &self,
        command: RecordingCommand,
    ) -> Result<Vec<RecordingEvent>, RecordingError> {
        match command {
            RecordingCommand::DeleteRecording => Ok(vec![]),
            RecordingCommand::RecordSweep { .. } if self.swept => Ok(vec![]),
            RecordingCommand::RecordSweep { objects } => {
                Ok(vec![RecordingEvent::RecordingSwept { objects }])
            }
            _ => Err(RecordingError::Deleted),
        }
    }

    /// A new guest's invite: the current link, not revoked, not used up.
    fn check_invite(&self, generation: Option<u32>) -> Result<(), RecordingError> {
        let invite = &self.invite;
        if invite.revoked || generation != Some(invite.generation) {
            return Err(RecordingError::InviteRevoked);
        }
        match invite.max_joins {
            Some(max) if invite.joins >= max => Err(RecordingError::InviteUsedUp(max)),
            _ => Ok(()),
        }
    }
}
