//! Shared test support: every test gets its own Postgres database, NATS stream
//! and subject prefix, Redis key prefix and data directory, removed when the
//! `TestEnv` is dropped (also when the test panics).

#![allow(dead_code)]

pub mod clock;
pub mod media;
pub mod probe;
pub mod servers;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zencast::config::with_database;
use zencast::{Backends, Config, Parts, Running};
use zencast_events::protocol::ServerFrame;

pub fn base_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://zencast:zencast@127.0.0.1:5432/postgres".into())
}
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}
pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Everything but the render worker: the tests of other parts complete
/// sessions whose chunks are not media, and their renders would only add
/// events and load the machine. The render tests start workers themselves.
pub const NO_RENDER: Parts = Parts {
    render: false,
    ..Parts::ALL
};

pub struct TestEnv {
    pub tag: String,
    pub config: Config,
    pub data_dir: PathBuf,
    /// Removes `data_dir` when the test ends (after `Drop::drop` below).
    _data: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        // The system's logs in the test's output, when RUST_LOG asks for them.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let tag = format!("zt_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let data = tempfile::Builder::new().prefix(&tag).tempdir().unwrap();
        let data_dir = data.path().to_path_buf();
        let config = Config {
            database_url: with_database(&base_database_url(), &tag),
            redis_url: redis_url(),
            nats_url: nats_url(),
            nats_replicas: 1,
            http_addr: "127.0.0.1:0".parse().unwrap(),
            prefix: tag.clone(),
            secret: Some("test-secret-test-secret-test-secret".into()),
            previous_secrets: vec![],
            header_timeout_ms: 30_000,
            // Rooms created without an account, as before accounts; the
            // account tests set `accounts`.
            auth: "open".into(),
            quota_rooms: None,
            quota_storage_mb: None,
            quota_session_minutes: None,
            max_participants: 8,
            presence_grace_ms: 1_000,
            ws_rate: 200,
            public_url: None,
            s3_endpoint: None,
            s3_listen: "127.0.0.1:0".parse().unwrap(),
            s3_bucket: tag.replace('_', "-"),
            aws_region: "us-east-1".into(),
            aws_access_key_id: "zencast-test".into(),
            aws_secret_access_key: "zencast-test-secret".into(),
            max_chunk_bytes: 4 * 1024 * 1024,
            upload_grace_ms: 1_500,
            body_idle_ms: 30_000,
            reconcile_ms: 1_000,
            web_dir: None,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            render_preset: "ultrafast".into(),
            render_crf: 28,
            render_attempts: 3,
            render_backoff_ms: 200,
            render_ack_wait_ms: 2_000,
            render_track_preset: "ultrafast".into(),
            font: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into(),
            data_dir: data_dir.clone(),
        };
        Self {
            tag,
            config,
            data_dir,
            _data: data,
        }
    }

    pub async fn backends(&self) -> Backends {
        Backends::connect(&self.config).await.expect("backends")
    }

    /// A participant token signed with this environment's secret, for a room
    /// the test knows only from the log (the api's answer was lost).
    pub fn token(
        &self,
        room: zencast_events::RoomId,
        participant: zencast_events::ParticipantId,
        role: zencast_events::Role,
    ) -> String {
        let secret = self.config.secret.clone().unwrap();
        zencast_api::tokens::Tokens::new(secret.as_bytes(), chrono::Duration::hours(1)).issue(
            room,
            participant,
            role,
            chrono::Utc::now(),
        )
    }

    /// Starts services in this process.
    pub async fn start(&self, parts: Parts) -> Running {
        zencast::start(self.backends().await, parts)
            .await
            .expect("start")
    }

    /// The environment a `zencast` child process needs to use this test's
    /// database, prefix and secret.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.config.database_url.clone()),
            ("REDIS_URL", self.config.redis_url.clone()),
            ("NATS_URL", self.config.nats_url.clone()),
            (
                "ZENCAST_NATS_REPLICAS",
                self.config.nats_replicas.to_string(),
            ),
            ("ZENCAST_HTTP_ADDR", "127.0.0.1:0".into()),
            ("ZENCAST_PREFIX", self.tag.clone()),
            ("ZENCAST_AUTH", self.config.auth.clone()),
            ("ZENCAST_SECRET", self.config.secret.clone().unwrap()),
            ("ZENCAST_DATA_DIR", self.data_dir.display().to_string()),
            (
                "ZENCAST_PRESENCE_GRACE_MS",
                self.config.presence_grace_ms.to_string(),
            ),
            ("ZENCAST_S3_LISTEN", "127.0.0.1:0".into()),
            ("ZENCAST_S3_BUCKET", self.config.s3_bucket.clone()),
            ("AWS_ACCESS_KEY_ID", self.config.aws_access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.config.aws_secret_access_key.clone(),
            ),
            (
                "ZENCAST_MAX_CHUNK_BYTES",
                self.config.max_chunk_bytes.to_string(),
            ),
            (
                "ZENCAST_UPLOAD_GRACE_MS",
                self.config.upload_grace_ms.to_string(),
            ),
            ("ZENCAST_RECONCILE_MS", self.config.reconcile_ms.to_string()),
            ("ZENCAST_RENDER_PRESET", self.config.render_preset.clone()),
            ("ZENCAST_RENDER_CRF", self.config.render_crf.to_string()),
            (
                "ZENCAST_RENDER_BACKOFF_MS",
                self.config.render_backoff_ms.to_string(),
            ),
            (
                "ZENCAST_RENDER_ACK_WAIT_MS",
                self.config.render_ack_wait_ms.to_string(),
            ),
            ("RUST_LOG", "warn".into()),
        ]
    }

    /// Runs `zencast ARGS` to completion; returns (exit code, stdout).
    pub fn run_cli(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_zencast"))
            .args(args)
            .envs(self.env_vars())
            .output()
            .expect("run zencast");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Runs `zencast ARGS` with `stdin` as its input; returns (exit code,
    /// stdout and stderr).
    pub fn run_cli_with_stdin(&self, args: &[&str], stdin: &str) -> (i32, String) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_zencast"))
            .args(args)
            .envs(self.env_vars())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run zencast");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().expect("zencast ran");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// Starts `zencast up` as a child process, with extra environment (fail
    /// points), and waits for its api address.
    pub fn spawn_up(&self, extra_env: &[(&str, &str)]) -> Process {
        self.spawn("up", extra_env)
    }

    /// Starts `zencast SUBCOMMAND` (one that serves the api) and waits for its address.
    pub fn spawn(&self, subcommand: &str, extra_env: &[(&str, &str)]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zencast"))
            .arg(subcommand)
            .envs(self.env_vars())
            .envs(extra_env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn zencast up");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (link_tx, link_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s3 = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("zencast: embedded S3 store on http://") {
                    s3 = Some(addr.parse::<SocketAddr>().unwrap());
                }
                if let Some(addr) = line.strip_prefix("zencast: api listening on http://") {
                    let _ = tx.send((addr.parse::<SocketAddr>().unwrap(), s3));
                }
                // Printed after the address and before `ready`, when it is printed at all.
                if let Some(link) = line.strip_prefix(FIRST_RUN) {
                    let _ = link_tx.send(Some(link.to_string()));
                }
                if line.starts_with("zencast: ready") {
                    let _ = link_tx.send(None);
                }
            }
        });
        let (addr, s3) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("zencast did not report its address");
        // The first message after the address: the link, or `ready` without one.
        let first_run_link = link_rx.recv_timeout(Duration::from_secs(10)).ok().flatten();
        Process {
            child,
            addr,
            s3,
            database_url: self.config.database_url.clone(),
            first_run_link,
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let tag = self.tag.clone();
        let config = self.config.clone();
        // Async clean-up from a plain thread: Drop may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(nats) = async_nats::connect(&config.nats_url).await {
                    let js = async_nats::jetstream::new(nats);
                    let _ = js
                        .delete_stream(format!("{}_EVENTS", tag.to_uppercase()))
                        .await;
                    let _ = js
                        .delete_stream(format!("{}_JOBS", tag.to_uppercase()))
                        .await;
                }
                if let Ok(client) = redis::Client::open(config.redis_url.as_str()) {
                    if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                        let keys: Vec<String> = redis::cmd("KEYS")
                            .arg(format!("{tag}:*"))
                            .query_async(&mut c)
                            .await
                            .unwrap_or_default();
                        if !keys.is_empty() {
                            let _: Result<(), _> =
                                redis::cmd("DEL").arg(keys).query_async(&mut c).await;
                        }
                    }
                }
                if let Ok(pool) =
                    sqlx::PgPool::connect(&with_database(&base_database_url(), "postgres")).await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{tag}\" WITH (FORCE)"))
                        .execute(&pool)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A `zencast` child process, killed when dropped.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    /// The embedded S3 store's address, when this process runs one.
    pub s3: Option<SocketAddr>,
    /// Its event log.
    pub database_url: String,
    /// The link that creates the first host account, when it printed one
    /// (accounts mode, no account yet).
    pub first_run_link: Option<String>,
}

/// How `zencast up` introduces the first-run link on stdout.
pub const FIRST_RUN: &str = "zencast: no host account yet; create the first one at ";

impl Process {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    /// Waits for the process to exit by itself (a fail point), up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 10 ms until it returns Some, or panics after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Messages in the test's event stream.
pub async fn stream_messages(b: &Backends) -> u64 {
    let mut stream = b.stream.clone();
    stream.info().await.expect("stream info").state.messages
}

/// The room WebSocket's address for a participant's token.
pub fn ws_url(addr: SocketAddr, room: &str, token: &str) -> String {
    format!("ws://{addr}/api/recordings/{room}/ws?token={token}")
}

/// A WebSocket client speaking the api's JSON frames, which checks each frame
/// it receives against the protocol's `ServerFrame`.
pub struct Socket {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Socket {
    pub async fn connect(addr: SocketAddr, room: &str, token: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url(addr, room, token))
            .await
            .expect("websocket");
        Self { ws }
    }

    pub async fn send(&mut self, v: serde_json::Value) {
        self.send_text(v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        use futures::SinkExt;
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next frame whose `type` is `kind` (others are skipped), within 5 s.
    pub async fn expect(&mut self, kind: &str) -> serde_json::Value {
        self.expect_where(kind, |_| true).await
    }

    /// The next frame of `kind` that also satisfies `pred`, within 5 s.
    pub async fn expect_where(
        &mut self,
        kind: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        use futures::StreamExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no {kind} frame within 5 s"))
                .expect("socket closed")
                .expect("socket error");
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                // Every frame the server sends must read as the web client's type.
                if let Err(e) = serde_json::from_str::<ServerFrame>(t.as_str()) {
                    panic!("a frame the client cannot read ({e}): {t}");
                }
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == kind && pred(&v) {
                    return v;
                }
            }
        }
    }

    /// Whether the server closes the socket within 5 s (frames before the
    /// close are skipped).
    pub async fn closed_by_server(&mut self) -> bool {
        use futures::StreamExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_))) => return true,
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// An answer's status and JSON body (null when it has none).
async fn reply(r: reqwest::Response) -> (u16, serde_json::Value) {
    (
        r.status().as_u16(),
        r.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// A small HTTP client for the api.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        reply(req.send().await.unwrap()).await
    }
    /// `GET path` (with a Bearer token if given): (status, JSON body or null).
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        reply(req.send().await.unwrap()).await
    }
    /// `DELETE path` with a Bearer token: (status, JSON body or null).
    pub async fn delete(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let req = self.http.delete(format!("{}{path}", self.base));
        reply(req.bearer_auth(token).send().await.unwrap()).await
    }
    pub async fn create(&self, title: &str) -> serde_json::Value {
        let (status, v) = self
            .post("/api/recordings", None, serde_json::json!({"title": title}))
            .await;
        assert_eq!(status, 201, "{v}");
        v
    }
    pub async fn join(&self, room: &str, name: &str, invite: &str) -> serde_json::Value {
        let (status, v) = self
            .post(
                &format!("/api/recordings/{room}/join"),
                None,
                serde_json::json!({"displayName": name, "inviteToken": invite}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

/// The room's events from the log (Postgres), in order: what every test that
/// asks "what happened" reads.
pub async fn room_log(pool: &sqlx::PgPool, room: &str) -> Vec<zencast_events::Envelope> {
    let room = zencast_events::RoomId::parse(room).expect("a room id");
    zencast_eventlog::log::room_events(pool, room, 0, None)
        .await
        .expect("the room's events")
}

/// A JSON string field.
pub fn s(v: &serde_json::Value) -> &str {
    v.as_str().unwrap()
}

/// A second, independent S3-compatible server (moto, from PyPI), on a free port;
/// stopped when dropped.
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    pub fn start() -> Self {
        let port = servers::free_port();
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; scripts/test.sh does)");
        servers::wait_listening(port, "moto_server", &mut child);
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// From now on, events of `event_type` are committed to the log but their
/// outbox rows vanish before the relay can send them: the event never reaches
/// the stream, as if JetStream had lost it. (A trigger on the test's own
/// database; the event itself is untouched.)
pub async fn lose_on_the_way_to_the_stream(pool: &sqlx::PgPool, event_type: &str) {
    let name = format!("lose_{}", event_type.to_lowercase());
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION {name}() RETURNS trigger AS $$
         BEGIN
             IF EXISTS (SELECT 1 FROM events
                         WHERE aggregate_type = NEW.aggregate_type
                           AND aggregate_id = NEW.aggregate_id
                           AND sequence = NEW.sequence
                           AND event_type = '{event_type}') THEN
                 RETURN NULL;
             END IF;
             RETURN NEW;
         END $$ LANGUAGE plpgsql;
         CREATE TRIGGER {name} BEFORE INSERT ON outbox
             FOR EACH ROW EXECUTE FUNCTION {name}();"
    ))
    .execute(pool)
    .await
    .expect("install the losing trigger");
}
