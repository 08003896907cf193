//! Redis key names of the room projection. The prefix is `zencast` in production
//! and unique per test.

use zencast_events::{ParticipantId, RoomId};

#[derive(Debug, Clone)]
pub struct RoomKeys {
    prefix: String,
    room: RoomId,
}

impl RoomKeys {
    pub fn new(prefix: &str, room: RoomId) -> Self {
        Self {
            prefix: prefix.to_string(),
            room,
        }
    }
    /// `zencast:room:{id}`: hash of the room's state.
    pub fn room(&self) -> String {
        format!("{}:room:{}", self.prefix, self.room)
    }
    /// `zencast:room:{id}:participants`: set of participants in the room now.
    pub fn participants(&self) -> String {
        format!("{}:room:{}:participants", self.prefix, self.room)
    }
    /// `zencast:room:{id}:chunks:{participant_id}`: set of stored chunk indexes.
    pub fn chunks(&self, participant: ParticipantId) -> String {
        format!("{}:room:{}:chunks:{participant}", self.prefix, self.room)
    }
    /// `zencast:progress:{id}`: the running render's live progress (percent,
    /// stage), written by the render worker with a short expiry. Not part of
    /// the projection: not an event, not rebuilt by replay.
    pub fn progress(&self) -> String {
        format!("{}:progress:{}", self.prefix, self.room)
    }
    /// Matches every key of this room (ids are fixed-length, so no other room's).
    pub fn pattern(&self) -> String {
        format!("{}:room:{}*", self.prefix, self.room)
    }
}
