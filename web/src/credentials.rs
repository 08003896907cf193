//! Who we are in a room, kept in localStorage so a reload (or a crash) comes
//! back as the same participant, with the same devices.

use serde::{Deserialize, Serialize};
use zencast_events::{ParticipantId, Role, RoomId};

use crate::browser::local_storage;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub room_id: RoomId,
    pub participant_id: ParticipantId,
    pub token: String,
    pub role: Role,
    pub display_name: String,
    /// The guest invite link, kept for the host to copy.
    pub invite_url: Option<String>,
    pub camera_id: Option<String>,
    pub microphone_id: Option<String>,
}

impl Credentials {
    pub fn is_host(&self) -> bool {
        self.role == Role::Host
    }

    pub fn load(room: &str) -> Option<Self> {
        let raw = local_storage()?.get_item(&key(room)).ok()??;
        serde_json::from_str(&raw).ok()
    }

    pub fn save(&self) {
        if let (Some(storage), Ok(raw)) = (local_storage(), serde_json::to_string(self)) {
            let _ = storage.set_item(&key(&self.room_id.to_string()), &raw);
        }
    }
}

fn key(room: &str) -> String {
    format!("zencast:room:{room}")
}
