//! The room as the api shows it (`GET /api/recordings/{roomId}`), built from
//! the Redis projection (`zencast_projections::view`).

use serde::{Deserialize, Serialize};

use crate::event::{Layout, OutputKind, Role};
use crate::ids::{ParticipantId, RoomId};

/// Where a room's session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RoomStatus {
    /// Created; not recording yet.
    Open,
    Recording,
    /// Recording stopped; uploads may still arrive.
    Stopped,
    /// Every upload is in (or the grace period ran out).
    Completed,
    /// The host deleted it: its files are gone, its log stays.
    Deleted,
}

/// Where the room's render is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RenderStatus {
    /// The session completed; a worker has not started yet.
    Pending,
    /// Asked for again (another layout, or forced).
    Requested,
    Running,
    /// The last attempt failed; another follows.
    Retrying,
    Completed,
    /// Failed for good (`zencast render --force` may still render it).
    Failed,
}

macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
            /// The status a projection stored with [`as_str`](Self::as_str).
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)+ _ => None }
            }
        }
    };
}

names!(RoomStatus { Open => "open", Recording => "recording", Stopped => "stopped", Completed => "completed", Deleted => "deleted" });
names!(RenderStatus {
    Pending => "pending", Requested => "requested", Running => "running",
    Retrying => "retrying", Completed => "completed", Failed => "failed",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomView {
    pub room_id: RoomId,
    pub status: RoomStatus,
    pub title: String,
    pub layout: Layout,
    pub host_participant_id: ParticipantId,
    pub chunk_seconds: u32,
    pub max_participants: u32,
    pub created_at: Option<String>,
    pub recording_started_at: Option<String>,
    pub recording_stopped_at: Option<String>,
    pub completed_at: Option<String>,
    pub chunks_total: u64,
    pub bytes_total: u64,
    pub participants: Vec<ParticipantView>,
    /// The guest invite link: its generation (a new link replaces the old),
    /// whether the host revoked it, and how many new guests it admits.
    pub invite: InviteView,
    pub render: RenderView,
    /// The last event applied: compare with the audit log to see lag.
    pub last_sequence: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteView {
    pub generation: u32,
    pub revoked: bool,
    pub max_joins: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParticipantView {
    pub participant_id: ParticipantId,
    pub display_name: String,
    pub role: Role,
    /// In the room now.
    pub present: bool,
    /// Removed by the host (what it recorded stays).
    pub removed: bool,
    pub chunks_stored: u32,
    pub chunks_finished: Option<u32>,
    pub chunks_expected: Option<u32>,
    /// Finished its uploads after the session completed (it came back to a
    /// closed tab's recording): the files were rendered again with them.
    #[serde(default)]
    pub arrived_late: bool,
    /// Stored chunks that do not decode (the participant may send them again;
    /// they count as missing until then).
    pub rejected_chunks: Vec<RejectedChunk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectedChunk {
    pub index: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenderView {
    /// None until the session completes.
    pub status: Option<RenderStatus>,
    pub attempt: Option<u32>,
    pub worker: Option<String>,
    pub layout: Option<Layout>,
    pub forced: bool,
    /// The last failure, while it matters (`retrying` or `failed`).
    pub error: Option<String>,
    /// Live progress of the running attempt, 0–100.
    pub percent: Option<f64>,
    /// What the running attempt is doing (`fetching`, `aligning`, `encoding`, …).
    pub stage: Option<String>,
    pub final_key: Option<String>,
    pub final_size: Option<u64>,
    pub final_duration_ms: Option<u64>,
    /// What the last completed render wrote, with where to download it.
    pub files: Vec<FileView>,
    /// How far the render has caught up with the recording (ms of the
    /// timeline rendered in windows while the session goes on).
    pub rendered_until_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileView {
    /// `final.mp4`, `tracks/{participantId}.wav` or `tracks/{participantId}.mp4`.
    pub name: String,
    pub kind: OutputKind,
    pub participant_id: Option<ParticipantId>,
    pub size: u64,
    /// Where to download it: from the api, a link signed for 15 minutes
    /// (`/api/recordings/{roomId}/files/{name}?expires=…&signature=…`).
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_what_they_write() {
        for s in [
            RoomStatus::Open,
            RoomStatus::Recording,
            RoomStatus::Stopped,
            RoomStatus::Completed,
        ] {
            assert_eq!(RoomStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in [
            RenderStatus::Pending,
            RenderStatus::Requested,
            RenderStatus::Running,
            RenderStatus::Retrying,
            RenderStatus::Completed,
            RenderStatus::Failed,
        ] {
            assert_eq!(RenderStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(RoomStatus::parse("paused"), None);
    }
}
