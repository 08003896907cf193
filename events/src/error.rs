//! Why a command was refused. Each variant is a rule of the recording.

use chrono::{DateTime, Utc};

use crate::aggregate::{rfc3339, RECORDER_START_TOLERANCE};
use crate::ids::{ChunkIndex, ParticipantId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordingError {
    #[error("the room does not exist")]
    RoomNotFound,
    #[error("the room already exists")]
    RoomExists,
    #[error("{0}")]
    Invalid(String),
    #[error("the session is completed")]
    SessionCompleted,
    #[error("participant {0} has not joined this room")]
    NotAParticipant(ParticipantId),
    #[error("the room is full ({0} participants)")]
    RoomFull(u32),
    #[error("only the host may do this")]
    NotHost,
    #[error("the host removed participant {0} from this session")]
    Removed(ParticipantId),
    #[error(
        "this invite link was revoked or replaced by the host: ask the host for the current one"
    )]
    InviteRevoked,
    #[error(
        "this invite link has been used by the {0} guests it allows: ask the host for a new one"
    )]
    InviteUsedUp(u32),
    #[error("this recording was deleted")]
    Deleted,
    #[error("stop the recording before deleting it")]
    StillRecording,
    #[error("{0}")]
    NotDeleted(&'static str),
    #[error("recording has not started")]
    NotRecording,
    #[error("recording has already started")]
    AlreadyStarted,
    #[error("chunk {index} of participant {participant} is already stored with another hash")]
    ChunkConflict {
        participant: ParticipantId,
        index: ChunkIndex,
    },
    #[error("participant {0} already finished its uploads")]
    UploadsFinished(ParticipantId),
    #[error("{0}")]
    ChunkCount(String),
    #[error("{0}")]
    Render(String),
    /// `recorder_started_at` outside the session, beyond `RECORDER_START_TOLERANCE`.
    #[error("{}", outside_session(.start, .started, .stopped))]
    RecorderStartOutsideSession {
        start: DateTime<Utc>,
        started: DateTime<Utc>,
        stopped: Option<DateTime<Utc>>,
    },
}

fn outside_session(
    start: &DateTime<Utc>,
    started: &DateTime<Utc>,
    stopped: &Option<DateTime<Utc>>,
) -> String {
    let stopped = stopped.map_or(String::new(), |s| format!(" and stopped {}", rfc3339(s)));
    let tolerance = RECORDER_START_TOLERANCE.num_milliseconds() as f64 / 1000.0;
    format!(
        "the recorder start {} lies outside this session (recording started {}{stopped}; \
         allowed from {tolerance} s before the start until {tolerance} s after the stop)",
        rfc3339(*start),
        rfc3339(*started),
    )
}
