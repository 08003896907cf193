//! The room WebSocket (`GET /api/recordings/{roomId}/ws?token=…`): JSON text
//! frames, each with a `type`.
//!
//! Client → server ([`ClientFrame`]): `ping` (clock sync), and `offer`,
//! `answer` and `ice` for one other participant, relayed to its sockets on
//! whichever api node they are.
//!
//! Server → client ([`ServerFrame`]): `welcome`, `pong`, the relayed `offer`,
//! `answer` and `ice` (with `from`), `presence` (a participant's sockets came
//! or went), `event` (every event of the room as the log has it), `progress`
//! (a running render) and `error` (the socket stays open).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::Envelope;
use crate::ids::{ParticipantId, RoomId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "lowercase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ClientFrame {
    /// Answered by `pong`, for the clock offset.
    Ping {
        /// The client's clock, ms since the epoch.
        client_time: f64,
    },
    Offer(Outgoing<Call>),
    Answer(Outgoing<Call>),
    /// An ICE candidate as the browser gives it (`RTCIceCandidateInit`).
    Ice(Outgoing<Value>),
}

/// A signaling message for one participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outgoing<P> {
    pub to: ParticipantId,
    pub payload: P,
}

/// An offer or an answer. The answer echoes the offer's call number, so that
/// an answer to a replaced connection is not applied to its successor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub call: u64,
    /// The browser's `RTCSessionDescriptionInit` (`{type, sdp}`), relayed as is.
    pub description: Value,
}

/// A signaling message from another participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relayed<P> {
    pub from: ParticipantId,
    pub payload: P,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "lowercase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ServerFrame {
    /// The first frame of every socket.
    Welcome {
        room_id: RoomId,
        participant_id: ParticipantId,
        /// The server's clock, ms since the epoch.
        server_time: f64,
        /// Participants with a live socket now (this one included).
        online: Vec<ParticipantId>,
    },
    Pong {
        client_time: f64,
        server_time: f64,
    },
    Offer(Relayed<Call>),
    Answer(Relayed<Call>),
    Ice(Relayed<Value>),
    Presence {
        participant: ParticipantId,
        online: bool,
    },
    /// An event of the room, as the relay publishes it.
    Event {
        event: Envelope,
    },
    /// A running render (best effort: the next one replaces a lost one).
    Progress {
        room_id: RoomId,
        attempt: u32,
        /// `fetching`, `aligning`, `encoding`, …
        stage: String,
        /// 0–100.
        percent: f64,
    },
    Error {
        code: String,
        message: String,
    },
}

impl ServerFrame {
    /// The frame as the socket sends it.
    pub fn to_text(&self) -> String {
        // A map of strings, numbers and JSON values: nothing here fails to serialize.
        serde_json::to_string(self).expect("a server frame serializes")
    }

    /// `ServerFrame::Event` around an envelope that is already JSON (as it
    /// comes off the stream), without parsing it and writing it again for
    /// every socket. The same text as `to_text` of the parsed envelope.
    pub fn event_text(envelope_json: &str) -> String {
        format!("{{\"type\":\"event\",\"event\":{envelope_json}}}")
    }
}

impl ClientFrame {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a client frame serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;

    #[test]
    fn an_event_frame_made_from_raw_json_is_the_typed_frame() {
        let envelope = Envelope {
            event_id: uuid::Uuid::nil(),
            room_id: RoomId::parse("6a0d6f0e-8d3c-4d5e-9f00-0123456789ab").unwrap(),
            sequence: 3,
            event_type: "RecordingStarted".into(),
            schema_version: "2".into(),
            occurred_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            actor: "system".into(),
            payload: serde_json::json!({"at": "2023-11-14T22:13:20Z"}),
        };
        let raw = serde_json::to_string(&envelope).unwrap();
        let text = ServerFrame::event_text(&raw);
        let frame: ServerFrame = serde_json::from_str(&text).unwrap();
        assert_eq!(frame, ServerFrame::Event { event: envelope });
        assert_eq!(frame.to_text(), text);
    }

    #[test]
    fn a_client_frame_with_an_unknown_field_is_refused() {
        let to = "6a0d6f0e-8d3c-4d5e-9f00-0123456789ab";
        let ok = format!(r#"{{"type":"ice","to":"{to}","payload":{{"candidate":""}}}}"#);
        assert!(serde_json::from_str::<ClientFrame>(&ok).is_ok());
        let extra = format!(r#"{{"type":"ice","to":"{to}","payload":{{}},"x":1}}"#);
        assert!(serde_json::from_str::<ClientFrame>(&extra).is_err());
        let ping = r#"{"type":"ping","clientTime":12.5}"#;
        assert_eq!(
            serde_json::from_str::<ClientFrame>(ping).unwrap(),
            ClientFrame::Ping { client_time: 12.5 }
        );
        let offer_without_call = format!(r#"{{"type":"offer","to":"{to}","payload":{{}}}}"#);
        assert!(serde_json::from_str::<ClientFrame>(&offer_without_call).is_err());
    }
}
