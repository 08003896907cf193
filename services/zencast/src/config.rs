//! Configuration: flags, each with its environment variable and a default that
//! works on a single machine set up by the README.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// The shortest token secret accepted: 32 bytes, as HMAC-SHA256's own key
/// length (a generated one has 64 hex digits).
pub const MIN_SECRET_BYTES: usize = 32;

/// The object store credentials when none are configured: well known, so the
/// embedded store accepts them only on a loopback address.
pub const DEFAULT_ACCESS_KEY: &str = "zencast";
pub const DEFAULT_SECRET_KEY: &str = "zencast-local-secret";

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Postgres (the event log). The database is created if missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://zencast:zencast@127.0.0.1:5432/zencast",
        global = true
    )]
    pub database_url: String,
    /// Redis (the room-state projection).
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        global = true
    )]
    pub redis_url: String,
    /// NATS with JetStream (the event stream and signaling): one server, or a
    /// cluster's servers separated by commas.
    #[arg(
        long,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        global = true
    )]
    pub nats_url: String,
    /// Copies JetStream keeps of the event and job streams: 1 on a single
    /// server, 3 on a three-node cluster (list its servers in NATS_URL).
    #[arg(
        long,
        env = "ZENCAST_NATS_REPLICAS",
        default_value_t = 1,
        global = true
    )]
    pub nats_replicas: usize,
    /// Where the api listens. Port 0 picks a free port (printed at start).
    #[arg(
        long,
        env = "ZENCAST_HTTP_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub http_addr: SocketAddr,
    /// Prefix of NATS subjects, the stream name and Redis keys (isolates deployments).
    #[arg(long, env = "ZENCAST_PREFIX", default_value = "zencast", global = true)]
    pub prefix: String,
    /// Token signing secret; when unset, one is generated and kept in the data directory.
    #[arg(long, env = "ZENCAST_SECRET", hide_env_values = true, global = true)]
    pub secret: Option<String>,
    /// Secrets rotated out, comma-separated: they no longer sign, but the
    /// tokens and links they signed keep working until they expire.
    #[arg(
        long,
        env = "ZENCAST_PREVIOUS_SECRETS",
        hide_env_values = true,
        global = true,
        value_delimiter = ','
    )]
    pub previous_secrets: Vec<String>,
    /// Who may create sessions: `accounts` (signed-in hosts, or their API
    /// keys; the first start prints a link that creates the first account) or
    /// `open` (anyone who reaches the api: a studio on one's own machine).
    #[arg(
        long,
        env = "ZENCAST_AUTH",
        default_value = "accounts",
        value_parser = ["accounts", "open"],
        global = true
    )]
    pub auth: String,
    /// Recordings one host account keeps (deleted ones do not count).
    #[arg(long, env = "ZENCAST_QUOTA_ROOMS", global = true)]
    pub quota_rooms: Option<u32>,
    /// Megabytes of recorded chunks one host account's recordings may hold.
    #[arg(long, env = "ZENCAST_QUOTA_STORAGE_MB", global = true)]
    pub quota_storage_mb: Option<u64>,
    /// Minutes one session may record; later chunks are refused.
    #[arg(long, env = "ZENCAST_QUOTA_SESSION_MINUTES", global = true)]
    pub quota_session_minutes: Option<u64>,
    /// Participants in one room at once, host included.
    #[arg(
        long,
        env = "ZENCAST_MAX_PARTICIPANTS",
        default_value_t = 8,
        global = true
    )]
    pub max_participants: u32,
    /// Milliseconds a participant whose sockets all closed stays in the room
    /// before it counts as left.
    #[arg(
        long,
        env = "ZENCAST_PRESENCE_GRACE_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub presence_grace_ms: u64,
    /// WebSocket messages per second per socket (bursts up to twice this).
    #[arg(long, env = "ZENCAST_WS_RATE", default_value_t = 200, global = true)]
    pub ws_rate: u32,
    /// The address people use to reach this server, for invite links
    /// (default: http://{http-addr}).
    #[arg(long, env = "ZENCAST_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// An S3-compatible endpoint for chunks and renders. When unset, `up` runs an
    /// embedded store on --s3-listen and every part uses that.
    #[arg(long, env = "ZENCAST_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// Where the embedded S3-compatible store listens (port 0: any free port).
    #[arg(
        long,
        env = "ZENCAST_S3_LISTEN",
        default_value = "127.0.0.1:9000",
        global = true
    )]
    pub s3_listen: SocketAddr,
    #[arg(
        long,
        env = "ZENCAST_S3_BUCKET",
        default_value = "zencast-recordings",
        global = true
    )]
    pub s3_bucket: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", global = true)]
    pub aws_region: String,
    /// Also the embedded store's access key.
    #[arg(
        long,
        env = "AWS_ACCESS_KEY_ID",
        default_value = DEFAULT_ACCESS_KEY,
        global = true
    )]
    pub aws_access_key_id: String,
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        default_value = DEFAULT_SECRET_KEY,
        hide_env_values = true,
        global = true
    )]
    pub aws_secret_access_key: String,
    /// Largest chunk accepted, in bytes.
    #[arg(long, env = "ZENCAST_MAX_CHUNK_BYTES", default_value_t = 64 * 1024 * 1024, global = true)]
    pub max_chunk_bytes: u64,
    /// Milliseconds after stop when the session completes even if a participant
    /// never reported its uploads finished.
    #[arg(
        long,
        env = "ZENCAST_UPLOAD_GRACE_MS",
        default_value_t = 600_000,
        global = true
    )]
    pub upload_grace_ms: u64,
    /// Milliseconds a chunk upload may send nothing before it is refused (408).
    #[arg(
        long,
        env = "ZENCAST_BODY_IDLE_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub body_idle_ms: u64,
    /// Milliseconds an HTTP connection may take to send a request's headers,
    /// and may stay open idle between requests, before it is closed.
    #[arg(
        long,
        env = "ZENCAST_HEADER_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub header_timeout_ms: u64,
    /// Milliseconds between the reconcilers' scans of Postgres (also run at
    /// start-up): each duty owner (completion, render, projector) re-drives
    /// what is due there but whose JetStream message was lost or mishandled.
    #[arg(
        long,
        env = "ZENCAST_RECONCILE_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub reconcile_ms: u64,
    /// The built web client (scripts/build-web.sh), served at `/` (default:
    /// `web/dist` in the working directory, else in the source tree).
    #[arg(long, env = "ZENCAST_WEB_DIR", global = true)]
    pub web_dir: Option<PathBuf>,
    /// The ffmpeg the render worker runs (never downloaded).
    #[arg(long, env = "ZENCAST_FFMPEG", default_value = "ffmpeg", global = true)]
    pub ffmpeg: PathBuf,
    #[arg(
        long,
        env = "ZENCAST_FFPROBE",
        default_value = "ffprobe",
        global = true
    )]
    pub ffprobe: PathBuf,
    /// x264 preset of the render (`ultrafast` … `veryslow`).
    #[arg(
        long,
        env = "ZENCAST_RENDER_PRESET",
        default_value = "veryfast",
        global = true
    )]
    pub render_preset: String,
    /// x264 quality of the render (lower is better and larger).
    #[arg(long, env = "ZENCAST_RENDER_CRF", default_value_t = 23, global = true)]
    pub render_crf: u32,
    /// Attempts per render before `RenderFailed` is final.
    #[arg(
        long,
        env = "ZENCAST_RENDER_ATTEMPTS",
        default_value_t = 3,
        global = true
    )]
    pub render_attempts: u32,
    /// Wait before the first retry of a failed render; doubles each time.
    #[arg(
        long,
        env = "ZENCAST_RENDER_BACKOFF_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub render_backoff_ms: u64,
    /// A render worker silent this long is presumed dead: JetStream hands its
    /// job to another worker (the `render` consumer's ack wait) and its
    /// heartbeat expires.
    #[arg(
        long,
        env = "ZENCAST_RENDER_ACK_WAIT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub render_ack_wait_ms: u64,
    /// x264 preset of each participant's own MP4 (same quality, `--render-crf`;
    /// a faster preset makes larger files and leaves the cores to the composition).
    #[arg(
        long,
        env = "ZENCAST_RENDER_TRACK_PRESET",
        default_value = "ultrafast",
        global = true
    )]
    pub render_track_preset: String,
    /// Font for names on tiles and the audio-only card.
    #[arg(
        long,
        env = "ZENCAST_FONT",
        default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        global = true
    )]
    pub font: PathBuf,
    /// Local state (the generated secret, the embedded store, staged uploads).
    #[arg(
        long,
        env = "ZENCAST_DATA_DIR",
        default_value = ".zencast",
        global = true
    )]
    pub data_dir: PathBuf,
}

impl Config {
    /// The render worker's media settings.
    pub fn render_settings(&self) -> zencast_render::RenderSettings {
        zencast_render::RenderSettings {
            ffmpeg: self.ffmpeg.clone(),
            ffprobe: self.ffprobe.clone(),
            work_dir: self.data_dir.join("render"),
            encoding: zencast_render::graph::Encoding {
                preset: self.render_preset.clone(),
                track_preset: self.render_track_preset.clone(),
                crf: self.render_crf,
                font: self.font.exists().then(|| self.font.clone()),
            },
        }
    }

    pub fn auth_mode(&self) -> zencast_events::protocol::AuthMode {
        match self.auth.as_str() {
            "open" => zencast_events::protocol::AuthMode::Open,
            _ => zencast_events::protocol::AuthMode::Accounts,
        }
    }

    pub fn header_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.header_timeout_ms.max(100))
    }

    pub fn reconcile_period(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.reconcile_ms.max(100))
    }

    pub fn render_ack_wait(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.render_ack_wait_ms)
    }

    pub fn worker_settings(&self) -> zencast_render::WorkerSettings {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        zencast_render::WorkerSettings {
            name: format!("{}-{}", host.trim(), std::process::id()),
            max_attempts: self.render_attempts.max(1),
            backoff: std::time::Duration::from_millis(self.render_backoff_ms),
        }
    }

    /// The api's tunables.
    pub fn settings(&self, bound: std::net::SocketAddr) -> zencast_api::Settings {
        zencast_api::Settings {
            max_participants: self.max_participants,
            presence_grace: std::time::Duration::from_millis(self.presence_grace_ms),
            ws_rate_per_sec: self.ws_rate,
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{bound}")),
            max_chunk_bytes: self.max_chunk_bytes,
            staging_dir: self.data_dir.join("staging"),
            upload_grace: std::time::Duration::from_millis(self.upload_grace_ms),
            body_idle: std::time::Duration::from_millis(self.body_idle_ms),
            web_dir: self
                .web_dir
                .clone()
                .unwrap_or_else(zencast_api::state::default_web_dir),
            auth: self.auth_mode(),
            quotas: zencast_api::quotas::Quotas {
                rooms: self.quota_rooms,
                stored_bytes: self.quota_storage_mb.map(|mb| mb * 1_000_000),
                session_length: self
                    .quota_session_minutes
                    .map(|m| std::time::Duration::from_secs(m * 60)),
            },
            ..Default::default()
        }
    }

    /// The object store settings, given the embedded store's address if it runs.
    pub fn s3_settings(&self, embedded: Option<SocketAddr>) -> zencast_storage::S3Settings {
        let endpoint = match (&self.s3_endpoint, embedded) {
            (Some(e), _) => e.clone(),
            (None, Some(addr)) => format!("http://{addr}"),
            (None, None) => format!("http://{}", self.s3_listen),
        };
        zencast_storage::S3Settings {
            endpoint,
            region: self.aws_region.clone(),
            access_key: self.aws_access_key_id.clone(),
            secret_key: self.aws_secret_access_key.clone(),
            bucket: self.s3_bucket.clone(),
        }
    }

    /// The secrets rotated out (`ZENCAST_PREVIOUS_SECRETS`), each as long as a current one.
    pub fn previous_token_secrets(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        self.previous_secrets
            .iter()
            .map(|s| {
                anyhow::ensure!(
                    s.len() >= MIN_SECRET_BYTES,
                    "each of ZENCAST_PREVIOUS_SECRETS must be at least {MIN_SECRET_BYTES} characters \
                     (it was once a ZENCAST_SECRET)"
                );
                Ok(s.as_bytes().to_vec())
            })
            .collect()
    }

    /// The token secret: configured, or read from (or created in) the data directory.
    pub fn token_secret(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(s) = &self.secret {
            anyhow::ensure!(
                s.len() >= MIN_SECRET_BYTES,
                "ZENCAST_SECRET must be at least {MIN_SECRET_BYTES} random characters \
                 (for example the output of `openssl rand -hex 32`), or unset to have one generated"
            );
            return Ok(s.as_bytes().to_vec());
        }
        let path = self.data_dir.join("secret");
        if let Ok(existing) = std::fs::read(&path) {
            if existing.len() >= MIN_SECRET_BYTES {
                return Ok(existing);
            }
        }
        private_dir(&self.data_dir)?;
        // Two v4 UUIDs: 244 bits from the OS random source.
        let fresh = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        write_private(&path, fresh.as_bytes())?;
        tracing::info!(path = %path.display(), "generated a token secret");
        Ok(fresh.into_bytes())
    }
}

/// Creates `dir` if needed and makes it readable by its owner only: it holds
/// recordings, staged uploads and the token secret.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}
