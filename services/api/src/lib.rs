//! The Zencast HTTP api (axum).
//!
//! # Routes, and what each guarantees
//! - `POST /api/recordings` → 201 `{roomId, hostParticipantId, hostToken, sequence}`:
//!   `RoomCreated` is in the Postgres log (with its outbox row) before the reply.
//! - `GET /api/recordings/{roomId}` → the room's state from the Redis projection
//!   (404 unknown room; brought up to the log before it is read, so a read
//!   right after a command sees it).
//! - `GET /api/recordings/{roomId}/events` → the audit timeline, read from Postgres.
//! - `POST /api/recordings/{roomId}/join`, `/start`, `/stop`: invites, joins and host
//!   controls; every refusal appends nothing.
//! - `GET /api/recordings/{roomId}/ws?token=…`: presence, live events, clock sync and
//!   the signaling relay over core NATS ([`session`]).
//! - `PUT …/participants/{participantId}/chunks/{chunkIndex}`, `GET …/chunks`,
//!   `POST /api/uploads/complete`: retry-safe uploads ([`routes::chunks`]): `ChunkUploaded`
//!   only once the object is in S3, whole.
//! - `POST /api/recordings/{roomId}/render` (host): another render (`RenderRequested`);
//!   `GET …/files`, `GET …/files/{name}`: the rendered files, streamed from S3.
//! - `POST /api/setup`, `/api/signin`, `/api/signout`, `GET /api/me`,
//!   `GET /api/me/recordings` ([`routes::hosts`]): host accounts and the
//!   dashboard; `DELETE /api/recordings/{roomId}` deletes a recording.
//! - `GET /api/openapi.json`, `GET /healthz`, `GET /metrics` (Prometheus text).
//! - Any other `GET`: the web client's files, or its `index.html` for the
//!   client's own routes ([`routes::web`]).
//!
//! Every error is JSON `{"error": {"code", "message"}}`; malformed JSON or ids
//! are 400, never 500.
//!
//! # Layout
//! - [`routes`]: one module per resource. [`error`]: `ApiError`, mapped once.
//! - [`extract`]: body and path extractors that validate. [`tokens`]: signed tokens.
//! - [`state`]: `AppState`, what every handler gets.
//! - [`accounts`]: host accounts: passwords, API keys, the sign-in cookie.
//! - [`quotas`]: per-host limits. [`sweep`]: removing a deleted recording's objects.
//! - [`auth`]: who is calling. [`presence`]: live sockets across nodes, in Redis.
//! - [`frames`], [`session`]: the WebSocket protocol and one socket's loop.
//! - [`staging`]: receiving a chunk body (S3 access is the `zencast-storage` crate).
//! - [`completion`]: the upload grace period after stop.

pub mod accounts;
pub mod auth;
pub mod completion;
pub mod error;
pub mod extract;
pub mod frames;
pub mod headers;
pub mod limits;
pub mod presence;
pub mod quotas;
pub mod routes;
pub mod session;
pub mod staging;
pub mod state;
pub mod sweep;
pub mod tokens;

use axum::Router;

pub use state::{AppState, Settings};

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::recordings::router())
        .merge(routes::people::router())
        .merge(routes::hosts::router())
        .merge(routes::socket::router())
        .merge(routes::chunks::router())
        .merge(routes::uploads::router())
        .merge(routes::renders::router())
        .merge(routes::openapi::router())
        .merge(routes::ops::router())
        .fallback(routes::web::serve)
        .layer(axum::middleware::map_response(headers::secure))
        .with_state(state)
}
