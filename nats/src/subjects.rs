//! Names on the wire. One `Subjects` value, built from the configured prefix
//! (`zencast` in production, a unique one per test), names the stream, its
//! subjects and the signaling subjects, so two deployments never see each other.

use zencast_events::{HostId, ParticipantId, RoomId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

#[derive(Debug, thiserror::Error)]
#[error("prefix `{0}` must be 1-32 characters of a-z, 0-9 and _")]
pub struct BadPrefix(String);

impl Subjects {
    pub fn new(prefix: &str) -> Result<Self, BadPrefix> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 32
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self {
                prefix: prefix.to_string(),
            })
        } else {
            Err(BadPrefix(prefix.to_string()))
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `ZENCAST_EVENTS` for the prefix `zencast`.
    pub fn stream(&self) -> String {
        format!("{}_EVENTS", self.prefix.to_uppercase())
    }

    /// Every event: `zencast.events.>`.
    pub fn all_events(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// Every host account event: `zencast.hosts.>` (in the same stream).
    pub fn all_hosts(&self) -> String {
        format!("{}.hosts.>", self.prefix)
    }

    /// `zencast.hosts.{host_id}.{EventType}`.
    pub fn host_event(&self, host: HostId, event_type: &str) -> String {
        format!("{}.hosts.{host}.{event_type}", self.prefix)
    }

    /// `zencast.events.{room_id}.{EventType}`.
    pub fn event(&self, room: RoomId, event_type: &str) -> String {
        format!("{}.events.{room}.{event_type}", self.prefix)
    }

    /// A filter for `tail` and ops tools: any room and/or any type.
    pub fn event_filter(&self, room: Option<RoomId>, event_type: Option<&str>) -> String {
        let room = room.map_or("*".to_string(), |r| r.to_string());
        format!(
            "{}.events.{room}.{}",
            self.prefix,
            event_type.unwrap_or("*")
        )
    }

    /// Core NATS: signaling messages for one participant.
    pub fn signal_to(&self, room: RoomId, participant: ParticipantId) -> String {
        format!("{}.signal.{room}.{participant}", self.prefix)
    }

    /// Core NATS: a running render's progress (`{"attempt","percent","stage"}`).
    pub fn progress(&self, room: RoomId) -> String {
        format!("{}.progress.{room}", self.prefix)
    }

    /// The work queue of render jobs: `ZENCAST_JOBS`.
    pub fn jobs_stream(&self) -> String {
        format!("{}_JOBS", self.prefix.to_uppercase())
    }

    /// Every job: `zencast.jobs.>`.
    pub fn all_jobs(&self) -> String {
        format!("{}.jobs.>", self.prefix)
    }

    /// A window of a room to render: `zencast.jobs.window.{room_id}`.
    pub fn window_job(&self, room: RoomId) -> String {
        format!("{}.jobs.window.{room}", self.prefix)
    }

    /// Core NATS: presence in a room.
    pub fn signal_broadcast(&self, room: RoomId) -> String {
        format!("{}.signal.{room}.broadcast", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_architecture() {
        let s = Subjects::new("zencast").unwrap();
        let room = RoomId::parse("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
        assert_eq!(s.stream(), "ZENCAST_EVENTS");
        assert_eq!(
            s.event(room, "ChunkUploaded"),
            "zencast.events.67e55044-10b1-426f-9247-bb680e5fe0c8.ChunkUploaded"
        );
        assert_eq!(
            s.event_filter(None, Some("ChunkUploaded")),
            "zencast.events.*.ChunkUploaded"
        );
        assert_eq!(
            s.signal_broadcast(room),
            "zencast.signal.67e55044-10b1-426f-9247-bb680e5fe0c8.broadcast"
        );
    }

    #[test]
    fn prefixes_cannot_break_subjects() {
        for bad in ["", "a.b", "a*", "a>", "A", "a b", &"x".repeat(33)] {
            assert!(Subjects::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
