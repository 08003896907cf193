//! The `Recording` aggregate: one per room, holding just enough state to decide
//! whether a command is allowed. `decide` is the rulebook; `apply` only folds.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::command::RecordingCommand;
use crate::error::RecordingError;
use crate::event::{Layout, RecordingEvent, Role};
use crate::ids::{ChunkIndex, HostId, ParticipantId, Sha256};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_NAME_CHARS: usize = 80;
pub const MIN_CHUNK_SECONDS: u32 = 1;
pub const MAX_CHUNK_SECONDS: u32 = 60;
pub const MAX_PARTICIPANTS: u32 = 16;

/// How far a recorder's start (`recorder_started_at`, the client's clock
/// converted to server time by the WebSocket clock sync) may lie outside the
/// session. The conversion is off by the clock sync's error (half the
/// asymmetry of a ping's round trip: milliseconds on a good network, up to a
/// second or so on a bad one), so a start a little before `RecordingStarted`
/// or after `RecordingStopped` is a true one read through that error. Beyond
/// it the value is wrong (a start of `1`, in 1970, once made a 6-second
/// session a 57-year timeline), and the render would place the track by it.
pub const RECORDER_START_TOLERANCE: TimeDelta = TimeDelta::seconds(2);

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Phase {
    /// Created, people may join, nothing recorded yet.
    #[default]
    Open,
    Recording,
    /// Stopped; chunks may still arrive until every participant has finished.
    Stopped,
    /// `SessionCompleted`: only render events from here on.
    Completed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub title: String,
    pub host: ParticipantId,
    pub layout: Layout,
    pub chunk_seconds: u32,
    pub max_participants: u32,
    #[serde(default)]
    pub owner: Option<HostId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub display_name: String,
    pub role: Role,
    pub present: bool,
    /// Stored chunks: index → SHA-256.
    pub chunks: BTreeMap<ChunkIndex, Sha256>,
    /// The chunk count the participant declared when it finished uploading.
    pub finished: Option<u32>,
    /// Chunks the ingest worker has read: index → (the bytes read, decodes).
    #[serde(default)]
    pub checked: BTreeMap<ChunkIndex, (Sha256, bool)>,
    /// Removed by the host: refused from then on.
    #[serde(default)]
    pub removed: bool,
}

/// The guest invite link: which generation works, and how often.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InviteState {
    /// Links of other generations are refused (the room's first link is 0).
    pub generation: u32,
    pub revoked: bool,
    /// New guests this generation admits (`None`: as many as the room holds).
    pub max_joins: Option<u32>,
    /// New guests who joined with this generation.
    pub joins: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RenderState {
    /// Attempts started so far, over every request (attempt numbers never repeat).
    pub attempts: u32,
    /// Attempts started for the current request (the session's completion or
    /// the latest `RenderRequested`).
    pub request_attempts: u32,
    /// Of those, the ones whose worker was lost (killed, its machine gone):
    /// they count towards their own, larger bound, since they say nothing
    /// about the render itself.
    #[serde(default)]
    pub request_workers_lost: u32,
    /// Workers lost since a window was last rendered (or the request made):
    /// a render that loses its workers but moves on between losses is on a
    /// deployment whose workers die, not one the room itself takes down.
    #[serde(default)]
    pub workers_lost_in_a_row: u32,
    /// The layout asked for by the latest `RenderRequested`; else the room's.
    pub layout: Option<Layout>,
    /// The current request renders with what is stored, gaps filled.
    pub force: bool,
    /// The attempt in progress, if any.
    pub running: Option<u32>,
    pub completed: bool,
    pub failed: bool,
    /// Uploads arrived late while an attempt was running: that attempt does
    /// not have them, so its end asks for another render.
    #[serde(default)]
    pub rerun: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub room: Option<RoomInfo>,
    pub phase: Phase,
    pub participants: BTreeMap<ParticipantId, Participant>,
    pub expected_chunks: BTreeMap<ParticipantId, u32>,
    pub render: RenderState,
    /// Windows rendered so far, by `window_key` (a retry records nothing new).
    #[serde(default)]
    pub windows: std::collections::BTreeSet<String>,
    /// `RecordingStarted.at` and `RecordingStopped.at`: the session a recorder
    /// start must lie in. (Absent from snapshots taken before they were kept:
    /// unknown there, and then not checked.)
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub stopped_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub invite: InviteState,
    /// `RecordingDeleted`: every command is refused but the sweep's record.
    #[serde(default)]
    pub deleted: bool,
    /// `RecordingSwept`: storage holds nothing of the room any more.
    #[serde(default)]
    pub swept: bool,
}

impl Aggregate for Recording {
    const TYPE: &'static str = "Recording";
    type Command = RecordingCommand;
    type Event = RecordingEvent;
    type Error = RecordingError;
    type Services = ();

    async fn handle(
        &mut self,
        command: RecordingCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), RecordingError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: RecordingEvent) {
        use RecordingEvent::*;
        match event {
            RoomCreated {
                title,
                host,
                layout,
                chunk_seconds,
                max_participants,
                owner,
            } => {
                self.room = Some(RoomInfo {
                    title,
                    host,
                    layout,
                    chunk_seconds,
                    max_participants,
                    owner,
                })
            }
            ParticipantJoined {
                participant,
                display_name,
                role,
            } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.present = true;
                    return;
                }
                if role == Role::Guest {
                    self.invite.joins += 1;
                }
                self.participants.insert(
                    participant,
                    Participant {
                        display_name,
                        role,
                        present: true,
                        chunks: BTreeMap::new(),
                        finished: None,
                        checked: BTreeMap::new(),
                        removed: false,
                    },
                );
            }
            ParticipantRemoved {
                participant,
                chunk_count,
            } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.removed = true;
                    p.present = false;
                    p.finished.get_or_insert(chunk_count);
                }
            }
            InviteIssued {
                generation,
                max_joins,
            } => {
                self.invite = InviteState {
                    generation,
                    revoked: false,
                    max_joins,
                    joins: 0,
                }
            }
            InviteRevoked { .. } => self.invite.revoked = true,
            ParticipantLeft { participant, .. } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.present = false;
                }
            }
            RecordingStarted { at } => {
                self.phase = Phase::Recording;
                self.started_at = Some(at);
            }
            RecordingStopped { at } => {
                self.phase = Phase::Stopped;
                self.stopped_at = Some(at);
            }
            ChunkUploaded {
                participant,
                index,
                sha256,
                ..
            } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.chunks.insert(index, sha256);
                }
            }
            ParticipantUploadsFinished {
                participant,
                chunk_count,
            } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.finished = Some(chunk_count);
                }
            }
            SessionCompleted {
                expected_chunks, ..
            } => {
                self.phase = Phase::Completed;
                self.expected_chunks = expected_chunks;
            }
            RenderRequested { layout, force } => {
                self.render.rerun = false;
                self.render.completed = false;
                self.render.failed = false;
                self.render.request_attempts = 0;
                self.render.request_workers_lost = 0;
                self.render.workers_lost_in_a_row = 0;
                self.render.layout = Some(layout);
                self.render.force = force;
            }
            RenderStarted { attempt, .. } => {
                // A new attempt reads the log as it is: late uploads included.
                self.render.rerun = false;
                self.render.attempts = attempt;
                self.render.request_attempts += 1;
                self.render.running = Some(attempt);
                self.render.failed = false;
            }
            RenderCompleted { .. } => {
                self.render.running = None;
                self.render.completed = true;
            }
            RenderFailed {
                last, worker_lost, ..
            } => {
                self.render.running = None;
                self.render.failed = last;
                self.render.request_workers_lost += u32::from(worker_lost);
                self.render.workers_lost_in_a_row += u32::from(worker_lost);
            }
            ChunkProbed {
                participant,
                index,
                sha256,
                ..
            } => self.check(participant, index, sha256, true),
            ChunkRejected {
                participant,
                index,
                sha256,
                ..
            } => self.check(participant, index, sha256, false),
            WindowRendered {
                layout,
                index,
                to_ms,
                tracks,
                ..
            } => {
                self.windows
                    .insert(window_key(layout, index, to_ms, &tracks));
                self.render.workers_lost_in_a_row = 0;
            }
            UploadsArrivedLate {
                participant,
                chunk_count,
            } => {
                self.expected_chunks.insert(participant, chunk_count);
                self.render.rerun = self.render.running.is_some();
                // Windows rendered without these chunks are not reused.
                self.windows.clear();
            }
            RecordingDeleted {} => self.deleted = true,
            RecordingSwept { .. } => self.swept = true,
        }
    }
}

impl Participant {
    /// Indexes below `count` that are not stored.
    pub fn missing_chunks(&self, count: u32) -> Vec<u32> {
        (0..count)
            .filter(|i| !ChunkIndex::new(*i).is_ok_and(|i| self.chunks.contains_key(&i)))
            .collect()
    }

    /// What a participant that never finished counts with: up to its highest
    /// stored chunk. A gap below it stays visible as a missing index (the render
    /// sees it from the indexes) instead of silently dropping the chunks after it.
    pub fn chunk_count(&self) -> u32 {
        self.chunks.last_key_value().map_or(0, |(i, _)| i.get() + 1)
    }
}

impl Recording {
    /// The rulebook: the events a command yields on this state, or why it is refused.
    /// An empty list means "already done": retries of a command are no-ops.
    /// The rules live by concern: the room and its people (`room_rules`), the
    /// recording and its uploads (`session_rules`), renders (`render_rules`)
    /// and what the media workers record (`media_rules`).
    pub fn decide(&self, command: RecordingCommand) -> Result<Vec<RecordingEvent>, RecordingError> {
        use RecordingCommand as C;
        let room = match (&self.room, &command) {
            (Some(_), C::CreateRoom { .. }) => return Err(RecordingError::RoomExists),
            (None, C::CreateRoom { .. }) => None,
            (None, _) => return Err(RecordingError::RoomNotFound),
            (Some(room), _) => Some(room),
        };
        if self.deleted {
            return self.decide_deleted(command);
        }
        match command {
            C::CreateRoom { .. }
            | C::Join { .. }
            | C::Leave { .. }
            | C::RemoveParticipant { .. }
            | C::IssueInvite { .. }
            | C::RevokeInvite { .. }
            | C::DeleteRecording
            | C::RecordSweep { .. } => self.decide_room(room, command),
            C::StartRecording { .. }
            | C::StopRecording { .. }
            | C::RecordChunk { .. }
            | C::FinishUploads { .. }
            | C::ExpireGracePeriod => self.decide_session(command),
            C::RequestRender { .. }
            | C::StartRender { .. }
            | C::CompleteRender { .. }
            | C::FailRender { .. } => self.decide_render(room, command),
            C::ProbeChunk { .. } | C::RejectChunk { .. } | C::RecordWindow { .. } => {
                self.decide_media(command)
            }
        }
    }

    pub(crate) fn participant(&self, id: ParticipantId) -> Result<&Participant, RecordingError> {
        self.participants
            .get(&id)
            .ok_or(RecordingError::NotAParticipant(id))
    }

    pub(crate) fn require_host(&self, by: ParticipantId) -> Result<(), RecordingError> {
        match &self.room {
            Some(room) if room.host == by => Ok(()),
            _ => Err(RecordingError::NotHost),
        }
    }
}

/// A time as the api and the log show it: `2026-01-02T03:04:05.678Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn checked_text(
    what: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, RecordingError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(RecordingError::Invalid(format!(
            "the {what} cannot be empty"
        )));
    }
    if value.chars().count() > max_chars {
        return Err(RecordingError::Invalid(format!(
            "the {what} is longer than {max_chars} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(RecordingError::Invalid(format!(
            "the {what} contains control characters"
        )));
    }
    Ok(value.to_string())
}

/// Names a rendered window: its layout, index, end and the people in it.
pub fn window_key(
    layout: crate::event::Layout,
    index: u32,
    to_ms: u64,
    tracks: &[ParticipantId],
) -> String {
    let people: Vec<String> = tracks.iter().map(ToString::to_string).collect();
    format!("{}/{index}/{to_ms}/{}", layout.as_str(), people.join(","))
}
