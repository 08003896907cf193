//! Creating, joining and controlling a room, and its audit timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::view::RoomStatus;
use crate::envelope::Envelope;
use crate::event::{Layout, Role};
use crate::ids::{ParticipantId, RoomId};

/// `POST /api/recordings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoom {
    pub title: String,
    /// `grid` (default), `side-by-side`, `speaker` or `audio-only`.
    #[serde(default)]
    pub layout: Layout,
    /// Chunk length in seconds, 1 to 60 (default 10).
    #[serde(default = "default_chunk_seconds")]
    pub chunk_seconds: u32,
    #[serde(default = "default_host_name")]
    pub host_name: String,
}

fn default_chunk_seconds() -> u32 {
    10
}
fn default_host_name() -> String {
    "Host".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Created {
    pub room_id: RoomId,
    pub host_participant_id: ParticipantId,
    pub host_token: String,
    /// A guest invite, and the link that carries it.
    pub invite_token: String,
    pub invite_url: String,
    /// The sequence of the last event the creation appended.
    pub sequence: u64,
}

/// `POST /api/recordings/{roomId}/join`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinRequest {
    pub display_name: String,
    /// A guest's first join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_token: Option<String>,
    /// A reconnect: the token this participant got when it joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Joined {
    pub room_id: RoomId,
    pub participant_id: ParticipantId,
    pub participant_token: String,
    pub role: Role,
}

/// `POST /api/recordings/{roomId}/invite` (host): a new invite link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteRequest {
    /// How many new guests may join with it (1–15); none: as many as the room holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_joins: Option<u32>,
}

/// A new invite link: the links before it stop working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Invite {
    pub invite_token: String,
    pub invite_url: String,
    pub generation: u32,
    pub max_joins: Option<u32>,
    pub sequence: u64,
}

/// The reply to a host's action that appends an event (a removal, a revoked
/// invite): the sequence it is logged at, or the room's last when it was
/// already done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logged {
    pub sequence: u64,
}

/// The reply to the host's start and stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Control {
    /// `recording` after a start, `stopped` after a stop.
    pub status: RoomStatus,
    /// Server time of the start or stop.
    pub at: DateTime<Utc>,
    pub sequence: u64,
}

/// `GET /api/recordings/{roomId}/events`: the audit timeline, from Postgres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeline {
    pub room_id: RoomId,
    /// Event envelopes (see docs/events.md), in sequence order.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub events: Vec<Envelope>,
}
