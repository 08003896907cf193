//! The rules of the recording and its uploads: the host starts and stops,
//! chunks are recorded once (a retry of the same bytes is a no-op), each
//! participant declares its chunk count, and the session completes when
//! everyone has finished or the grace period runs out. One who had not
//! finished by then may still send its chunks and finish late, which renders
//! the room again.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;

use crate::aggregate::{Participant, Phase, Recording, RECORDER_START_TOLERANCE};
use crate::command::RecordingCommand;
use crate::error::RecordingError;
use crate::event::{CompletionReason, RecordingEvent};
use crate::ids::{ChunkIndex, ParticipantId};

impl Recording {
    pub(crate) fn decide_session(
        &self,
        command: RecordingCommand,
    ) -> Result<Vec<RecordingEvent>, RecordingError> {
        use RecordingCommand as C;
        use RecordingEvent as E;
        let completed = self.phase == Phase::Completed;
        match command {
            C::StartRecording { by, at } => {
                self.host_control(by, Phase::Open, RecordingError::AlreadyStarted)?;
                Ok(vec![E::RecordingStarted { at }])
            }

            C::StopRecording { by, at } => {
                self.host_control(by, Phase::Recording, RecordingError::NotRecording)?;
                self.with_completion(vec![E::RecordingStopped { at }])
            }

            C::RecordChunk {
                participant,
                index,
                size,
                sha256,
                key,
                starts_segment,
                recorder_started_at,
                media_zero_at,
            } => {
                let p = self.participant(participant)?;
                if p.removed {
                    return Err(RecordingError::Removed(participant));
                }
                match p.chunks.get(&index) {
                    // The same bytes again: a retry, already recorded.
                    Some(stored) if *stored == sha256 => return Ok(vec![]),
                    // Bytes that did not decode may be sent again, differently.
                    Some(stored) if p.checked.get(&index) == Some(&(*stored, false)) => {}
                    Some(_) => {
                        return Err(RecordingError::ChunkConflict { participant, index });
                    }
                    None => {}
                }
                // After completion, only a participant that had not finished
                // (it closed the tab, and comes back later) still sends what
                // it recorded.
                if completed && p.finished.is_some() {
                    return Err(RecordingError::SessionCompleted);
                }
                if self.phase == Phase::Open {
                    return Err(RecordingError::NotRecording);
                }
                if let Some(count) = p.finished {
                    if index.get() >= count {
                        return Err(RecordingError::UploadsFinished(participant));
                    }
                }
                if size == 0 {
                    return Err(RecordingError::Invalid("a chunk cannot be empty".into()));
                }
                if let Some(start) = recorder_started_at {
                    self.check_recorder_start(start)?;
                }
                // The last missing chunk of a finished participant completes the session.
                self.with_completion(vec![E::ChunkUploaded {
                    participant,
                    index,
                    size,
                    sha256,
                    key,
                    starts_segment,
                    recorder_started_at,
                    media_zero_at,
                }])
            }

            C::FinishUploads {
                participant,
                chunk_count,
            } => {
                let p = self.participant(participant)?;
                if p.removed {
                    return Err(RecordingError::Removed(participant));
                }
                match p.finished {
                    Some(c) if c == chunk_count => return Ok(vec![]),
                    Some(c) => {
                        return Err(RecordingError::ChunkCount(format!(
                            "uploads already finished with {c} chunks"
                        )));
                    }
                    None => {}
                }
                if self.phase == Phase::Open {
                    return Err(RecordingError::NotRecording);
                }
                if chunk_count > ChunkIndex::MAX + 1 {
                    return Err(RecordingError::ChunkCount(format!(
                        "a chunk count above {} is not possible",
                        ChunkIndex::MAX + 1
                    )));
                }
                if let Some((last, _)) = p.chunks.last_key_value() {
                    if last.get() >= chunk_count {
                        return Err(RecordingError::ChunkCount(format!(
                            "chunk {last} is stored, so the count cannot be {chunk_count}"
                        )));
                    }
                }
                let finished = E::ParticipantUploadsFinished {
                    participant,
                    chunk_count,
                };
                if completed {
                    return self.finish_late(p, finished, participant, chunk_count);
                }
                self.with_completion(vec![finished])
            }

            C::ExpireGracePeriod => match self.phase {
                Phase::Completed => Ok(vec![]),
                Phase::Stopped => Ok(vec![E::SessionCompleted {
                    expected_chunks: self
                        .participants
                        .iter()
                        .map(|(id, p)| (*id, p.finished.unwrap_or_else(|| p.chunk_count())))
                        .collect(),
                    reason: CompletionReason::GracePeriodExpired,
                }]),
                _ => Err(RecordingError::NotRecording),
            },
            _ => unreachable!("`decide` sends only decide_session's commands here"),
        }
    }

    /// A host's start or stop: refused once the session completed, to anyone
    /// but the host, and (with `wrong_phase`) in any phase but `from`.
    fn host_control(
        &self,
        by: ParticipantId,
        from: Phase,
        wrong_phase: RecordingError,
    ) -> Result<(), RecordingError> {
        if self.phase == Phase::Completed {
            return Err(RecordingError::SessionCompleted);
        }
        self.require_host(by)?;
        if self.phase != from {
            return Err(wrong_phase);
        }
        Ok(())
    }

    /// A participant finishes its uploads after the session completed: with
    /// every chunk it declares stored, the session expects them
    /// (`UploadsArrivedLate`) and the room is rendered again, now if no render
    /// runs, else when the running one ends (`render.rerun`); a render not
    /// started yet will read them anyway.
    fn finish_late(
        &self,
        p: &Participant,
        finished: RecordingEvent,
        participant: ParticipantId,
        chunk_count: u32,
    ) -> Result<Vec<RecordingEvent>, RecordingError> {
        let missing = p.missing_chunks(chunk_count);
        if !missing.is_empty() {
            return Err(RecordingError::ChunkCount(format!(
                "the session is completed: send chunks {missing:?} before finishing late"
            )));
        }
        let mut events = vec![
            finished,
            RecordingEvent::UploadsArrivedLate {
                participant,
                chunk_count,
            },
        ];
        let render = &self.render;
        if render.running.is_none() && (render.completed || render.failed) {
            events.push(self.render_again());
        }
        Ok(events)
    }

    /// Another render as the last one was asked for (layout, forced or not).
    pub(crate) fn render_again(&self) -> RecordingEvent {
        RecordingEvent::RenderRequested {
            layout: self
                .render
                .layout
                .or(self.room.as_ref().map(|r| r.layout))
                .unwrap_or_default(),
            force: self.render.force,
        }
    }

    /// Appends `SessionCompleted` when, after `events`, recording has stopped and
    /// every participant has finished uploading.
    pub(crate) fn with_completion(
        &self,
        mut events: Vec<RecordingEvent>,
    ) -> Result<Vec<RecordingEvent>, RecordingError> {
        let mut after = self.clone();
        for e in &events {
            after.apply(e.clone());
        }
        // Finished, and every chunk below the declared count is stored: only
        // then is the render possible. A missing chunk may still arrive (it is
        // accepted below the count) until the grace period runs out.
        let all_stored = after.participants.values().all(|p| {
            p.finished
                .is_some_and(|count| p.chunks.len() as u32 == count)
        });
        if after.phase == Phase::Stopped && all_stored {
            events.push(RecordingEvent::SessionCompleted {
                expected_chunks: after
                    .participants
                    .iter()
                    .map(|(id, p)| (*id, p.finished.unwrap_or(0)))
                    .collect(),
                reason: CompletionReason::AllFinished,
            });
        }
        Ok(events)
    }

    /// A recorder start is believed only within the session: from
    /// `RECORDER_START_TOLERANCE` before `RecordingStarted` until as long after
    /// `RecordingStopped` (once stopped). The caller, which has a clock, also
    /// refuses a start later than the upload's own time plus the tolerance.
    pub fn check_recorder_start(&self, start: DateTime<Utc>) -> Result<(), RecordingError> {
        let Some(started) = self.started_at else {
            return Ok(());
        };
        let too_early = start < started - RECORDER_START_TOLERANCE;
        let too_late = self
            .stopped_at
            .is_some_and(|stopped| start > stopped + RECORDER_START_TOLERANCE);
        if too_early || too_late {
            return Err(RecordingError::RecorderStartOutsideSession {
                start,
                started,
                stopped: self.stopped_at,
            });
        }
        Ok(())
    }
}
