//! The WebSocket protocol: what a client may send, and what the server sends.
//!
//! Client → server (JSON text frames):
//! - `{"type": "ping", "clientTime": ms}` → `pong` with the server time, for clock sync.
//! - `{"type": "offer"|"answer"|"ice", "to": participantId, "payload": …}`: relayed
//!   to that participant's sockets, on whichever api node they are.
//!
//! Server → client: `welcome`, `pong`, the relayed `offer`/`answer`/`ice` (with
//! `from`), `presence` (a participant's sockets came or went), `event` (every
//! event of the room, as it is published) and `error` (the socket stays open).

use serde::Deserialize;
use serde_json::{json, Value};
use zencast_events::ParticipantId;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientFrame {
    Ping {
        #[serde(rename = "clientTime")]
        client_time: f64,
    },
    Offer(Signal),
    Answer(Signal),
    Ice(Signal),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    pub to: ParticipantId,
    pub payload: Value,
}

/// Server time in milliseconds since the epoch, with microsecond precision.
pub fn server_time() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1000.0
}

pub fn pong(client_time: f64) -> String {
    json!({"type": "pong", "clientTime": client_time, "serverTime": server_time()}).to_string()
}

pub fn signal(kind: &str, from: ParticipantId, payload: &Value) -> String {
    json!({"type": kind, "from": from, "payload": payload}).to_string()
}

pub fn presence(participant: ParticipantId, online: bool) -> String {
    json!({"type": "presence", "participant": participant, "online": online}).to_string()
}

pub fn error(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}
