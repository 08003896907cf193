//! What every handler gets: the event log, the room state, tokens, settings.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use sqlx::PgPool;
use zencast_eventlog::EventLog;
use zencast_nats::Subjects;
use zencast_runtime::Metrics;

use crate::quotas::Quotas;
use crate::tokens::Tokens;
use zencast_events::protocol::AuthMode;
use zencast_storage::ChunkStore;

/// Limits and timings an operator may tune.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Participants in a room at once, host included.
    pub max_participants: u32,
    /// How long a participant whose sockets all closed stays in the room
    /// before `ParticipantLeft` (a reload or a network blip is not a leave).
    pub presence_grace: Duration,
    /// Largest WebSocket message accepted; larger ones get an error frame.
    pub ws_max_message: usize,
    /// Sustained WebSocket messages per second per socket (bursts up to twice this).
    pub ws_rate_per_sec: u32,
    /// Largest chunk accepted, in bytes.
    pub max_chunk_bytes: u64,
    /// A chunk body that sends nothing for this long is refused (408).
    pub body_idle: Duration,
    /// Where chunk bodies are staged while they arrive.
    pub staging_dir: std::path::PathBuf,
    /// How long after `RecordingStopped` the session completes even if some
    /// participant never reported its uploads finished.
    pub upload_grace: Duration,
    /// Base of invite links (`{public_url}/join/{roomId}?invite=…`).
    pub public_url: String,
    /// The built web client, served at `/`.
    pub web_dir: std::path::PathBuf,
    /// Who may create rooms: signed-in hosts only, or anyone.
    pub auth: AuthMode,
    pub quotas: Quotas,
}

/// `web/dist` under the working directory when there is one (an installed
/// copy), else the one in this source tree (`scripts/build-web.sh` builds it).
pub fn default_web_dir() -> std::path::PathBuf {
    let local = std::path::PathBuf::from("web/dist");
    if local.join("index.html").is_file() {
        return local;
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist")
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_participants: 8,
            presence_grace: Duration::from_secs(10),
            ws_max_message: 64 * 1024,
            ws_rate_per_sec: 200,
            max_chunk_bytes: 64 * 1024 * 1024,
            body_idle: Duration::from_secs(30),
            staging_dir: std::env::temp_dir().join("zencast-staging"),
            upload_grace: Duration::from_secs(600),
            public_url: "http://127.0.0.1:8080".into(),
            web_dir: default_web_dir(),
            auth: AuthMode::Accounts,
            quotas: Quotas::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub log: Arc<EventLog>,
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub nats: async_nats::Client,
    pub subjects: Subjects,
    pub tokens: Tokens,
    pub chunks: ChunkStore,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Chunk uploads in flight on this node, per participant.
    pub uploads: Arc<crate::limits::UploadSlots>,
}

impl AppState {
    /// Redis key prefix (`zencast`): the same as the subject prefix.
    pub fn prefix(&self) -> &str {
        self.subjects.prefix()
    }
}
