//! The WebSocket frames this node sends, built from the shared protocol
//! (`zencast_events::protocol::frames`, which documents both directions).

use zencast_events::protocol::ServerFrame;
use zencast_events::ParticipantId;

/// Server time in milliseconds since the epoch, with microsecond precision.
pub fn server_time() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1000.0
}

pub fn pong(client_time: f64) -> String {
    ServerFrame::Pong {
        client_time,
        server_time: server_time(),
    }
    .to_text()
}

pub fn presence(participant: ParticipantId, online: bool) -> String {
    ServerFrame::Presence {
        participant,
        online,
    }
    .to_text()
}

pub fn error(code: &str, message: &str) -> String {
    ServerFrame::Error {
        code: code.into(),
        message: message.into(),
    }
    .to_text()
}
