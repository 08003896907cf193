//! The Zencast domain: one `Recording` aggregate per room, its commands, its
//! events and their envelope, and the wire protocol every client shares. Pure:
//! no I/O, no clock, no randomness beyond new ids.
//!
//! # Features
//! - `domain` (default): the aggregate and its rules (cqrs-es) and new ids.
//!   The web client builds without it, so that it compiles to wasm with only
//!   what crosses the wire: ids, events, envelopes and [`protocol`].
//! - `openapi`: OpenAPI schemas of the wire types (the api's `/api/openapi.json`).
//!
//! # Layout
//! - [`ids`]: `RoomId`, `ParticipantId`, `ChunkIndex`, `Sha256`, validated when parsed.
//! - [`command`]: what can be asked of a recording.
//! - [`host`]: host accounts, a second, small aggregate in the same log.
//! - [`event`]: what happened; the types every other crate reads.
//! - [`aggregate`]: the state, the fold (`apply`) and `Recording::decide`, which
//!   hands each command to the rules of its concern: `room_rules`,
//!   `session_rules` (recording and uploads), `render_rules` and `media_rules`.
//! - [`envelope`]: the envelope every copy of an event carries (id, room,
//!   sequence, type, schema version, time, actor), and upcasting.
//! - [`error`]: why a command was refused.
//! - [`protocol`]: every request, reply, view and socket frame of the api.

#[cfg(feature = "domain")]
pub mod aggregate;
#[cfg(feature = "domain")]
pub mod command;
pub mod envelope;
#[cfg(feature = "domain")]
pub mod error;
pub mod event;
#[cfg(feature = "domain")]
pub mod host;
pub mod ids;
#[cfg(feature = "domain")]
mod media_rules;
pub mod protocol;
#[cfg(feature = "domain")]
mod render_rules;
#[cfg(feature = "domain")]
mod room_rules;
#[cfg(feature = "domain")]
mod session_rules;

#[cfg(feature = "domain")]
pub use aggregate::{Phase, Recording};
#[cfg(feature = "domain")]
pub use command::RecordingCommand;
pub use envelope::{event_id, Envelope, EnvelopeError, SYSTEM_ACTOR};
#[cfg(feature = "domain")]
pub use error::RecordingError;
pub use event::{
    CompletionReason, Container, FilledGap, Layout, OutputKind, RecordingEvent, RenderOutput, Role,
    SCHEMA_VERSION,
};
pub use ids::{ChunkIndex, HostId, IdError, ParticipantId, RoomId, Sha256};
