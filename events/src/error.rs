//! Why a command was refused. Each variant is a rule of the recording.

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
}
