//! The Redis room-state projection: fed by the durable `projector` consumer,
//! idempotent, and rebuildable from the Postgres log at any time.
//!
//! # Layout
//! - [`keys`]: the Redis key names (`zencast:room:{id}`, `…:participants`,
//!   `…:chunks:{participant}`).
//! - [`ops`]: what each event does to those keys, as data.
//! - [`room_state`]: applying an event in Redis, atomically and only if its
//!   sequence is the next one for its room.
//! - [`projector`]: the consumer loop, which fills gaps from Postgres.
//! - [`model`]: a room's keys as plain data, for rebuild and comparison.
//! - [`replay`]: `zencast replay` (rebuild) and `--verify` (compare).
//! - [`view`]: the room as the api returns it (`zencast_events::protocol::RoomView`).

pub mod fresh;
pub mod keys;
pub mod model;
pub mod ops;
pub mod projector;
pub mod replay;
pub mod room_state;
pub mod view;

use zencast_events::{EnvelopeError, RoomId};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("nats: {0}")]
    Nats(String),
    #[error(transparent)]
    Log(#[from] zencast_eventlog::LogError),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("room {0} has no events in the log")]
    UnknownRoom(RoomId),
    /// A room hash without what its first event writes: not the projector's.
    #[error("room {room}: the projection has no readable {what}")]
    Unreadable { room: RoomId, what: &'static str },
}

pub use projector::Projector;
pub use room_state::{Outcome, RoomState};
