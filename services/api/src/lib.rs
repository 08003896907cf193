//! The Zencast HTTP api (axum).
//!
//! # Routes, and what each guarantees
//! - `POST /api/recordings` → 201 `{roomId, hostParticipantId, hostToken, sequence}`:
//!   `RoomCreated` is in the Postgres log (with its outbox row) before the reply.
//! - `GET /api/recordings/{roomId}` → the room's state from the Redis projection
//!   (404 unknown room; 503 while a just-created room is still being projected).
//! - `GET /api/recordings/{roomId}/events` → the audit timeline, read from Postgres.
//! - `GET /healthz`, `GET /metrics` (Prometheus text).
//!
//! Every error is JSON `{"error": {"code", "message"}}`; malformed JSON or ids
//! are 400, never 500.
//!
//! # Layout
//! - [`routes`]: one module per resource. [`error`]: `ApiError`, mapped once.
//! - [`extract`]: body and path extractors that validate. [`tokens`]: signed tokens.
//! - [`state`]: `AppState`, what every handler gets.

pub mod auth;
pub mod completion;
pub mod error;
pub mod extract;
pub mod frames;
pub mod presence;
pub mod routes;
pub mod session;
pub mod staging;
pub mod state;
pub mod storage;
pub mod tokens;

use axum::Router;

pub use state::{AppState, Settings};

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::recordings::router())
        .merge(routes::socket::router())
        .merge(routes::chunks::router())
        .merge(routes::uploads::router())
        .merge(routes::openapi::router())
        .merge(routes::ops::router())
        .fallback(|| async { error::ApiError::NotFound("no such route".into()) })
        .with_state(state)
}
