//! The Zencast domain: one `Recording` aggregate per room, its commands, its
//! events and their envelope. Pure: no I/O, no clock, no randomness beyond new ids.
//!
//! # Layout
//! - [`ids`]: `RoomId`, `ParticipantId`, `ChunkIndex`, `Sha256`, validated when parsed.
//! - [`command`]: what can be asked of a recording.
//! - [`event`]: what happened; the types every other crate reads.
//! - [`aggregate`]: the rules (`Recording::decide`) and the fold (`apply`).
//! - [`envelope`]: the envelope every copy of an event carries (id, room,
//!   sequence, type, schema version, time, actor), and upcasting.
//! - [`error`]: why a command was refused.

pub mod aggregate;
pub mod command;
pub mod envelope;
pub mod error;
pub mod event;
pub mod ids;
mod media_rules;

pub use aggregate::{Phase, Recording};
pub use command::RecordingCommand;
pub use envelope::{event_id, Envelope, EnvelopeError, SYSTEM_ACTOR};
pub use error::RecordingError;
pub use event::{
    CompletionReason, Container, FilledGap, Layout, OutputKind, RecordingEvent, RenderOutput, Role,
    SCHEMA_VERSION,
};
pub use ids::{ChunkIndex, IdError, ParticipantId, RoomId, Sha256};
