//! The event envelope: what every copy of an event carries, in Postgres, on NATS
//! and in the audit timeline, so that all copies can be matched by `event_id`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{RecordingEvent, SCHEMA_VERSION};
use crate::ids::RoomId;

/// Metadata keys cqrs-es stores next to each event.
pub const META_ACTOR: &str = "actor";
pub const META_OCCURRED_AT: &str = "occurred_at";

/// The actor of events the system itself decides (session completion, renders).
pub const SYSTEM_ACTOR: &str = "system";

/// Namespace of event ids (UUID v5). Fixed forever: changing it would change the
/// id of every event already written.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x8f3c_1d2e_5b7a_4c69_9e0f_2a4b_6c8d_0e1f);

/// The globally unique id of the event at `sequence` in `room`.
///
/// Derived, not random: cqrs-es hands one metadata map to all events of a
/// command, so a random id there would be shared. Room and sequence identify an
/// event uniquely and forever (the log is append-only), so every copy of the
/// event, and every re-publish of it, carries the same id; JetStream de-duplicates
/// on it.
pub fn event_id(room: RoomId, sequence: u64) -> Uuid {
    Uuid::new_v5(&EVENT_ID_NAMESPACE, format!("{room}/{sequence}").as_bytes())
}

/// An event with everything needed to place it: the wire and audit format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: Uuid,
    pub room_id: RoomId,
    /// The aggregate version: 1, 2, 3 … per room, without gaps.
    pub sequence: u64,
    pub event_type: String,
    pub schema_version: String,
    pub occurred_at: DateTime<Utc>,
    /// A participant id, or `system`.
    pub actor: String,
    /// The event's own fields, without the type tag.
    pub payload: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("event {room}/{sequence}: unknown schema version {version} of {event_type}")]
    UnknownVersion {
        room: RoomId,
        sequence: u64,
        event_type: String,
        version: String,
    },
    #[error("event {room}/{sequence}: payload does not match {event_type}: {source}")]
    BadPayload {
        room: RoomId,
        sequence: u64,
        event_type: String,
        source: serde_json::Error,
    },
    #[error("event {room}/{sequence}: bad metadata: {0}", room = .1, sequence = .2)]
    BadMetadata(String, RoomId, u64),
}

impl Envelope {
    /// Wraps a domain event committed at `sequence`.
    pub fn new(
        room: RoomId,
        sequence: u64,
        event: &RecordingEvent,
        actor: &str,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        let mut tagged = serde_json::to_value(event).expect("events always serialize");
        let payload = tagged
            .get_mut(event.type_name())
            .map(serde_json::Value::take)
            .unwrap_or(serde_json::Value::Null);
        Self {
            event_id: event_id(room, sequence),
            room_id: room,
            sequence,
            event_type: event.type_name().to_string(),
            schema_version: SCHEMA_VERSION.to_string(),
            occurred_at,
            actor: actor.to_string(),
            payload,
        }
    }

    /// Builds an envelope from the columns of a stored event (cqrs-es layout:
    /// tagged payload, metadata map).
    pub fn from_stored(
        room: RoomId,
        sequence: u64,
        event_type: &str,
        event_version: &str,
        tagged_payload: serde_json::Value,
        metadata: &HashMap<String, String>,
    ) -> Result<Self, EnvelopeError> {
        let actor = metadata
            .get(META_ACTOR)
            .cloned()
            .unwrap_or_else(|| SYSTEM_ACTOR.to_string());
        let occurred_at = metadata
            .get(META_OCCURRED_AT)
            .ok_or_else(|| EnvelopeError::BadMetadata("no occurred_at".into(), room, sequence))?;
        let occurred_at = DateTime::parse_from_rfc3339(occurred_at)
            .map_err(|e| EnvelopeError::BadMetadata(e.to_string(), room, sequence))?
            .with_timezone(&Utc);
        let mut tagged = upcast(room, sequence, event_type, event_version, tagged_payload)?;
        let payload = tagged
            .get_mut(event_type)
            .map(serde_json::Value::take)
            .unwrap_or(serde_json::Value::Null);
        Ok(Self {
            event_id: event_id(room, sequence),
            room_id: room,
            sequence,
            event_type: event_type.to_string(),
            schema_version: SCHEMA_VERSION.to_string(),
            occurred_at,
            actor,
            payload,
        })
    }

    /// The typed event inside.
    pub fn event(&self) -> Result<RecordingEvent, EnvelopeError> {
        let tagged = serde_json::json!({ &self.event_type: self.payload.clone() });
        serde_json::from_value(tagged).map_err(|source| EnvelopeError::BadPayload {
            room: self.room_id,
            sequence: self.sequence,
            event_type: self.event_type.clone(),
            source,
        })
    }
}

/// Brings a stored payload of any known schema version to the current one.
/// Every older version gets its conversion here, and stays readable forever.
///
/// - 1 → 2: `ChunkUploaded` gained `starts_segment` (a recorder's first chunk;
///   in schema 1 only chunk 0 was one) and `recorder_started_at` (absent).
///   `RenderStarted` gained `forced` and `RenderCompleted` gained `outputs`
///   (both default to nothing).
pub fn upcast(
    room: RoomId,
    sequence: u64,
    event_type: &str,
    version: &str,
    mut tagged_payload: serde_json::Value,
) -> Result<serde_json::Value, EnvelopeError> {
    match version {
        SCHEMA_VERSION => Ok(tagged_payload),
        "1" => {
            if let Some(chunk) = tagged_payload
                .get_mut("ChunkUploaded")
                .and_then(|c| c.as_object_mut())
            {
                let first = chunk.get("index").and_then(|i| i.as_u64()) == Some(0);
                chunk.insert("starts_segment".into(), first.into());
            }
            Ok(tagged_payload)
        }
        _ => Err(EnvelopeError::UnknownVersion {
            room,
            sequence,
            event_type: event_type.to_string(),
            version: version.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ParticipantId;

    #[test]
    fn event_ids_are_stable_and_distinct() {
        let room = RoomId::new();
        assert_eq!(event_id(room, 1), event_id(room, 1));
        assert_ne!(event_id(room, 1), event_id(room, 2));
        assert_ne!(event_id(room, 1), event_id(RoomId::new(), 1));
    }

    #[test]
    fn envelope_round_trips_through_stored_form() {
        let room = RoomId::new();
        let event = RecordingEvent::ParticipantJoined {
            participant: ParticipantId::new(),
            display_name: "Ada".into(),
            role: crate::Role::Guest,
        };
        let now = Utc::now();
        let env = Envelope::new(room, 7, &event, "system", now);
        assert_eq!(env.payload["display_name"], "Ada");
        let meta = HashMap::from([
            (META_ACTOR.to_string(), "system".to_string()),
            (META_OCCURRED_AT.to_string(), now.to_rfc3339()),
        ]);
        let stored = serde_json::to_value(&event).unwrap();
        let back = Envelope::from_stored(room, 7, "ParticipantJoined", "1", stored, &meta).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.event().unwrap(), event);
    }

    #[test]
    fn schema_1_chunks_are_upcast_with_chunk_0_starting_the_segment() {
        let meta = HashMap::from([(META_OCCURRED_AT.to_string(), Utc::now().to_rfc3339())]);
        let participant = ParticipantId::new();
        for (index, first) in [(0, true), (3, false)] {
            let v1 = serde_json::json!({"ChunkUploaded": {
                "participant": participant, "index": index, "size": 10,
                "sha256": "00".repeat(32), "key": "k"}});
            let env =
                Envelope::from_stored(RoomId::new(), 5, "ChunkUploaded", "1", v1, &meta).unwrap();
            assert_eq!(env.schema_version, SCHEMA_VERSION);
            match env.event().unwrap() {
                RecordingEvent::ChunkUploaded {
                    starts_segment,
                    recorder_started_at,
                    ..
                } => {
                    assert_eq!(starts_segment, first);
                    assert_eq!(recorder_started_at, None);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unknown_schema_versions_are_refused_not_guessed() {
        let meta = HashMap::from([(META_OCCURRED_AT.to_string(), Utc::now().to_rfc3339())]);
        let err = Envelope::from_stored(
            RoomId::new(),
            1,
            "RoomCreated",
            "9",
            serde_json::json!({}),
            &meta,
        )
        .unwrap_err();
        assert!(matches!(err, EnvelopeError::UnknownVersion { .. }));
    }
}
