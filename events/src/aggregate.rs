//! The `Recording` aggregate: one per room, holding just enough state to decide
//! whether a command is allowed. `decide` is the rulebook; `apply` only folds.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::command::RecordingCommand;
use crate::error::RecordingError;
use crate::event::{CompletionReason, Layout, RecordingEvent, Role};
use crate::ids::{ChunkIndex, ParticipantId, Sha256};

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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RenderState {
    /// Attempts started so far, over every request (attempt numbers never repeat).
    pub attempts: u32,
    /// Attempts started for the current request (the session's completion or
    /// the latest `RenderRequested`).
    pub request_attempts: u32,
    /// The layout asked for by the latest `RenderRequested`; else the room's.
    pub layout: Option<Layout>,
    /// The current request renders with what is stored, gaps filled.
    pub force: bool,
    /// The attempt in progress, if any.
    pub running: Option<u32>,
    pub completed: bool,
    pub failed: bool,
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
            } => {
                self.room = Some(RoomInfo {
                    title,
                    host,
                    layout,
                    chunk_seconds,
                    max_participants,
                })
            }
            ParticipantJoined {
                participant,
                display_name,
                role,
            } => {
                self.participants
                    .entry(participant)
                    .and_modify(|p| p.present = true)
                    .or_insert(Participant {
                        display_name,
                        role,
                        present: true,
                        chunks: BTreeMap::new(),
                        finished: None,
                        checked: BTreeMap::new(),
                    });
            }
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
                self.render.completed = false;
                self.render.failed = false;
                self.render.request_attempts = 0;
                self.render.layout = Some(layout);
                self.render.force = force;
            }
            RenderStarted { attempt, .. } => {
                self.render.attempts = attempt;
                self.render.request_attempts += 1;
                self.render.running = Some(attempt);
                self.render.failed = false;
            }
            RenderCompleted { .. } => {
                self.render.running = None;
                self.render.completed = true;
            }
            RenderFailed { last, .. } => {
                self.render.running = None;
                self.render.failed = last;
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
            }
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
    pub fn decide(&self, command: RecordingCommand) -> Result<Vec<RecordingEvent>, RecordingError> {
        use RecordingCommand as C;
        use RecordingEvent as E;

        let room = match (&self.room, &command) {
            (Some(_), C::CreateRoom { .. }) => return Err(RecordingError::RoomExists),
            (None, C::CreateRoom { .. }) => None,
            (None, _) => return Err(RecordingError::RoomNotFound),
            (Some(room), _) => Some(room),
        };
        let completed = self.phase == Phase::Completed;

        match command {
            C::CreateRoom {
                title,
                host,
                host_name,
                layout,
                chunk_seconds,
                max_participants,
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
                    // Already in the room: a duplicate join changes nothing.
                    Some(p) if p.present => Ok(vec![]),
                    // A re-join keeps the identity (and name) the participant had.
                    Some(p) => Ok(vec![E::ParticipantJoined {
                        participant,
                        display_name: p.display_name.clone(),
                        role: p.role,
                    }]),
                    None => {
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

            C::StartRecording { by, at } => {
                if completed {
                    return Err(RecordingError::SessionCompleted);
                }
                self.require_host(by)?;
                if self.phase != Phase::Open {
                    return Err(RecordingError::AlreadyStarted);
                }
                Ok(vec![E::RecordingStarted { at }])
            }

            C::StopRecording { by, at } => {
                if completed {
                    return Err(RecordingError::SessionCompleted);
                }
                self.require_host(by)?;
                if self.phase != Phase::Recording {
                    return Err(RecordingError::NotRecording);
                }
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
            } => {
                let p = self.participant(participant)?;
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
                if completed {
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
                }])
            }

            C::FinishUploads {
                participant,
                chunk_count,
            } => {
                let p = self.participant(participant)?;
                match p.finished {
                    Some(c) if c == chunk_count => return Ok(vec![]),
                    Some(c) => {
                        return Err(RecordingError::ChunkCount(format!(
                            "uploads already finished with {c} chunks"
                        )));
                    }
                    None => {}
                }
                if completed {
                    return Err(RecordingError::SessionCompleted);
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
                self.with_completion(vec![E::ParticipantUploadsFinished {
                    participant,
                    chunk_count,
                }])
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

            C::RequestRender { layout, force } => {
                if !completed {
                    return Err(RecordingError::Render(
                        "the session is not completed yet".into(),
                    ));
                }
                if let Some(running) = self.render.running {
                    return Err(RecordingError::Render(format!(
                        "render attempt {running} is in progress"
                    )));
                }
                Ok(vec![E::RenderRequested { layout, force }])
            }

            C::StartRender { worker, attempt } => {
                if !completed {
                    return Err(RecordingError::Render(
                        "the session is not completed yet".into(),
                    ));
                }
                if self.render.completed {
                    return Err(RecordingError::Render("the render is already done".into()));
                }
                if self.render.failed {
                    return Err(RecordingError::Render(
                        "the render failed for good; ask for another".into(),
                    ));
                }
                if let Some(running) = self.render.running {
                    return Err(RecordingError::Render(format!(
                        "render attempt {running} is in progress"
                    )));
                }
                if attempt != self.render.attempts + 1 {
                    return Err(RecordingError::Render(format!(
                        "render attempt {attempt} is not next (attempts so far: {})",
                        self.render.attempts
                    )));
                }
                let layout = self
                    .render
                    .layout
                    .or(room.map(|r| r.layout))
                    .unwrap_or_default();
                Ok(vec![E::RenderStarted {
                    worker,
                    layout,
                    attempt,
                    forced: self.render.force,
                }])
            }

            C::CompleteRender {
                attempt,
                key,
                size,
                duration_ms,
                outputs,
                filled_gaps,
            } => {
                self.require_running_render(attempt)?;
                Ok(vec![E::RenderCompleted {
                    attempt,
                    key,
                    size,
                    duration_ms,
                    outputs,
                    filled_gaps,
                }])
            }

            C::FailRender {
                attempt,
                reason,
                last,
            } => {
                self.require_running_render(attempt)?;
                Ok(vec![E::RenderFailed {
                    attempt,
                    reason,
                    last,
                }])
            }

            C::ProbeChunk { .. } | C::RejectChunk { .. } | C::RecordWindow { .. } => {
                self.decide_media(command)
            }
        }
    }

    /// Appends `SessionCompleted` when, after `events`, recording has stopped and
    /// every participant has finished uploading.
    fn with_completion(
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

    fn participant(&self, id: ParticipantId) -> Result<&Participant, RecordingError> {
        self.participants
            .get(&id)
            .ok_or(RecordingError::NotAParticipant(id))
    }

    fn require_host(&self, by: ParticipantId) -> Result<(), RecordingError> {
        match &self.room {
            Some(room) if room.host == by => Ok(()),
            _ => Err(RecordingError::NotHost),
        }
    }

    fn require_running_render(&self, attempt: u32) -> Result<(), RecordingError> {
        if self.render.running == Some(attempt) {
            Ok(())
        } else {
            Err(RecordingError::Render(format!(
                "render attempt {attempt} is not running"
            )))
        }
    }
}

/// A time as the api and the log show it: `2026-01-02T03:04:05.678Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn checked_text(what: &str, value: &str, max_chars: usize) -> Result<String, RecordingError> {
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
