//! Chunks stored, and a participant's uploads finished.

use serde::{Deserialize, Serialize};

use crate::ids::{ChunkIndex, ParticipantId, RoomId, Sha256};

/// The reply to a chunk `PUT` (201 stored, 200 already stored with the same bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChunkStored {
    pub index: ChunkIndex,
    pub size: u64,
    pub sha256: Sha256,
    pub key: String,
}

/// `GET …/participants/{participantId}/chunks`: what is stored, so a client
/// that lost its place knows exactly what to send again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredChunks {
    pub participant_id: ParticipantId,
    pub chunks: Vec<ChunkStored>,
}

/// `POST /api/uploads/complete`: this participant has sent `chunk_count` chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Complete {
    pub room_id: RoomId,
    pub participant_id: ParticipantId,
    pub chunk_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Completed {
    /// Whether this call completed the whole session.
    pub session_completed: bool,
    pub sequence: u64,
}
