//! What every handler gets: the event log, the room state, tokens, metrics.

use std::sync::Arc;

use redis::aio::ConnectionManager;
use sqlx::PgPool;
use zencast_nats::{EventLog, Metrics};

use crate::tokens::Tokens;

#[derive(Clone)]
pub struct AppState {
    pub log: Arc<EventLog>,
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub nats: async_nats::Client,
    /// Redis key prefix (`zencast`).
    pub prefix: String,
    pub tokens: Tokens,
    pub metrics: Arc<Metrics>,
}
