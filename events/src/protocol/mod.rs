//! The wire: every type that crosses between the server and a client (the
//! Dioxus web client, the CLI, scripts), shared by both sides so that a field
//! renamed on one side breaks the other at compile time, not at run time.
//!
//! Wasm-safe: this module needs only serde, chrono and uuid, so the web client
//! builds the `events` crate without its `domain` feature (the aggregate and
//! cqrs-es) and gets exactly these types.
//!
//! # Casing
//! Everything here is camelCase JSON. The one exception is what the log
//! stores: an [`Envelope`](crate::Envelope) and its event payload keep the
//! log's snake_case, because events are never rewritten and ops tools read the
//! stream in that form (`docs/events.md`); a frame carries the envelope as the
//! log has it.
//!
//! # Modules
//! - [`frames`]: the room WebSocket, both directions.
//! - [`rooms`]: creating, joining and controlling a room; the audit timeline.
//! - [`uploads`]: chunks stored, and a participant's uploads finished.
//! - [`renders`]: asking for a render; the files a render wrote.
//! - [`hosts`]: host accounts, signing in, the dashboard.
//! - [`view`]: the room as the api shows it.
//! - [`error`]: the body of every error response.

pub mod error;
pub mod frames;
pub mod hosts;
pub mod renders;
pub mod rooms;
pub mod uploads;
pub mod view;

pub use error::{ErrorBody, ErrorDetail};
pub use frames::{Call, ClientFrame, Outgoing, ServerFrame};
pub use hosts::{AuthMode, Dashboard, HostView, Me, SetupRequest, SignInRequest, SignedIn};
pub use renders::{Files, RenderAccepted, RenderRequest};
pub use rooms::{
    Control, CreateRoom, Created, Invite, InviteRequest, JoinRequest, Joined, Logged, Timeline,
};
pub use uploads::{ChunkStored, Complete, Completed, StoredChunks};
pub use view::{
    FileView, InviteView, ParticipantView, RejectedChunk, RenderStatus, RenderView, RoomStatus,
    RoomView,
};
