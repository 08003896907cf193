//! Starting the services: any subset in one process (`zencast up` starts all).

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use zencast_api::completion::{GraceWatcher, COMPLETION_CONSUMER};
use zencast_api::tokens::{Tokens, PARTICIPANT_TOKEN_DAYS};
use zencast_api::AppState;
use zencast_eventlog::outbox::Relay;
use zencast_eventlog::EventLog;
use zencast_events::protocol::AuthMode;
use zencast_events::Envelope;
use zencast_nats::stream;
use zencast_projections::{Projector, RoomState};
use zencast_runtime::ShutdownTrigger;
use zencast_storage::ChunkStore;

use crate::backends::Backends;

/// Which services to run.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub api: bool,
    pub relay: bool,
    pub projector: bool,
    /// The render worker.
    pub render: bool,
    /// The embedded S3-compatible store (only when no endpoint is configured).
    pub embedded_s3: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        api: true,
        relay: true,
        projector: true,
        render: true,
        embedded_s3: true,
    };
    /// Only the connections to the backing services (tools and tests that
    /// drive the parts themselves).
    pub const NONE: Parts = Parts {
        api: false,
        relay: false,
        projector: false,
        render: false,
        embedded_s3: false,
    };
}

/// Services running in this process.
pub struct Running {
    pub backends: Backends,
    /// Where the api listens, when it runs.
    pub http_addr: Option<SocketAddr>,
    /// Where the embedded S3-compatible store listens, when it runs.
    pub s3_addr: Option<SocketAddr>,
    /// Events as the projector makes them visible, when it runs.
    pub projected: Option<broadcast::Sender<Arc<Envelope>>>,
    pub log: Arc<EventLog>,
    /// The link that creates the first host account, when none exists.
    pub first_run_link: Option<String>,
    trigger: ShutdownTrigger,
    tasks: Vec<JoinHandle<()>>,
}

pub async fn start(backends: Backends, parts: Parts) -> anyhow::Result<Running> {
    let (trigger, shutdown) = zencast_runtime::shutdown_pair();
    let log = Arc::new(EventLog::new(
        backends.pool.clone(),
        backends.metrics.clone(),
    ));
    // Recordings, staged uploads and renders live under it.
    crate::config::private_dir(&backends.config.data_dir)?;
    let mut tasks = Vec::new();
    let mut projected = None;
    let mut http_addr = None;
    let mut s3_addr = None;
    let mut first_run_link = None;

    tasks.push(tokio::spawn(report_set_aside(
        backends.clone(),
        shutdown.clone(),
    )));

    if parts.embedded_s3 && backends.config.s3_endpoint.is_none() {
        let c = &backends.config;
        let (addr, task) = crate::embedded_s3::start(
            &c.data_dir.join("s3"),
            c.s3_listen,
            &c.aws_access_key_id,
            &c.aws_secret_access_key,
            shutdown.clone(),
        )
        .await?;
        s3_addr = Some(addr);
        tasks.push(task);
    }

    if parts.relay {
        let relay = Relay::new(
            backends.pool.clone(),
            backends.config.database_url.clone(),
            backends.js.clone(),
            backends.subjects.clone(),
            backends.metrics.clone(),
            log.appended(),
        );
        tasks.push(tokio::spawn(relay.run(shutdown.clone())));
    }

    if parts.projector {
        let consumer = stream::ensure_consumer(
            &backends.stream,
            &backends.subjects,
            stream::PROJECTOR_CONSUMER,
            stream::PROJECTOR_ACK_WAIT,
            stream::MAX_DELIVER,
        )
        .await?;
        let projector = Projector::new(
            consumer,
            RoomState::new(backends.redis.clone(), backends.subjects.prefix()),
            backends.pool.clone(),
            backends.metrics.clone(),
        );
        projected = Some(projector.applied());
        tasks.push(tokio::spawn(
            projector
                .clone()
                .reconcile(backends.config.reconcile_period(), shutdown.clone()),
        ));
        tasks.push(tokio::spawn(projector.run(shutdown.clone())));
    }

    if parts.render {
        let worker = Arc::new(render_worker(&backends, log.clone(), s3_addr)?);
        let consumer = stream::ensure_consumer(
            &backends.stream,
            &backends.subjects,
            stream::RENDER_CONSUMER,
            backends.config.render_ack_wait(),
            stream::RENDER_MAX_DELIVER,
        )
        .await?;
        worker
            .jobs
            .renderer
            .store
            .ensure_bucket()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "the render worker cannot reach the object store ({e}); \
                 run `zencast up` on this machine or set ZENCAST_S3_ENDPOINT"
                )
            })?;
        // Ingest and window rendering during the session, on the same worker.
        let ingest = stream::ensure_filtered_consumer(
            &backends.stream,
            stream::INGEST_CONSUMER,
            backends.subjects.event_filter(None, Some("ChunkUploaded")),
            std::time::Duration::from_secs(60),
            stream::MAX_DELIVER,
        )
        .await?;
        let windows = stream::ensure_job_consumer(
            &backends.jobs,
            stream::WINDOW_CONSUMER,
            std::time::Duration::from_secs(120),
            5,
        )
        .await?;
        let jobs = worker.jobs.clone();
        // Two readers: one participant's backlog does not hold up another's.
        let reader = Arc::new(zencast_render::ingest::Ingest { jobs: jobs.clone() });
        for _ in 0..2 {
            tasks.push(tokio::spawn(zencast_render::jobs::run_ingest(
                reader.clone(),
                ingest.clone(),
                shutdown.clone(),
            )));
        }
        // One window at a time: with the assembly's own renders beside it,
        // a second renderer left fewer idle moments but did not finish a
        // session sooner (`bench progressive`: 39.2 s with one, 39.7 s with
        // two), and it starved everything else on the machine.
        tasks.push(tokio::spawn(zencast_render::jobs::run_windows(
            jobs,
            windows,
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(
            worker
                .clone()
                .reconcile(backends.config.reconcile_period(), shutdown.clone()),
        ));
        tasks.push(tokio::spawn(worker.run(consumer, shutdown.clone())));
    }

    if parts.api {
        let secret = backends.config.token_secret()?;
        let previous = backends.config.previous_token_secrets()?;
        let chunks = ChunkStore::new(&backends.config.s3_settings(s3_addr));
        chunks.ensure_bucket().await?;
        let completion = stream::ensure_filtered_consumer(
            &backends.stream,
            COMPLETION_CONSUMER,
            backends
                .subjects
                .event_filter(None, Some("RecordingStopped")),
            std::time::Duration::from_secs(30),
            stream::MAX_DELIVER,
        )
        .await?;
        let watcher = GraceWatcher {
            consumer: completion,
            log: log.clone(),
            grace: std::time::Duration::from_millis(backends.config.upload_grace_ms),
        };
        tasks.push(tokio::spawn(watcher.run(shutdown.clone())));
        tasks.push(tokio::spawn(zencast_api::completion::reconcile(
            log.clone(),
            std::time::Duration::from_millis(backends.config.upload_grace_ms),
            backends.config.reconcile_period(),
            shutdown.clone(),
        )));
        let listener = tokio::net::TcpListener::bind(backends.config.http_addr)
            .await
            .map_err(|e| {
                anyhow::anyhow!("api cannot listen on {}: {e}", backends.config.http_addr)
            })?;
        let addr = listener.local_addr()?;
        tasks.push(tokio::spawn(zencast_api::sweep::reconcile(
            log.clone(),
            chunks.clone(),
            backends.config.reconcile_period(),
            shutdown.clone(),
        )));
        let state = AppState {
            log: log.clone(),
            pool: backends.pool.clone(),
            redis: backends.redis.clone(),
            nats: backends.nats.clone(),
            subjects: backends.subjects.clone(),
            tokens: Tokens::new(&secret, Duration::days(PARTICIPANT_TOKEN_DAYS))
                .with_previous(&previous),
            chunks,
            metrics: backends.metrics.clone(),
            settings: backends.config.settings(addr),
            uploads: Default::default(),
        };
        http_addr = Some(addr);
        first_run_link = first_run(&state).await?;
        let stop = shutdown.clone();
        let header_timeout = backends.config.header_timeout();
        let router = zencast_api::router(state);
        tasks.push(tokio::spawn(crate::serve::serve(
            listener,
            router,
            header_timeout,
            stop,
        )));
    }

    Ok(Running {
        backends,
        http_addr,
        s3_addr,
        projected,
        log,
        first_run_link,
        trigger,
        tasks,
    })
}

/// The one-time link that creates the first host account, while the api
/// needs accounts and none exists yet.
async fn first_run(state: &AppState) -> anyhow::Result<Option<String>> {
    if state.settings.auth != AuthMode::Accounts
        || zencast_eventlog::hosts::any_active(&state.pool).await?
    {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}/setup?token={}",
        state.settings.public_url.trim_end_matches('/'),
        state.tokens.setup_token(chrono::Utc::now())
    )))
}

/// A render worker on these backends (also used by `zencast render --force`).
pub fn render_worker(
    backends: &Backends,
    log: Arc<EventLog>,
    s3_addr: Option<SocketAddr>,
) -> anyhow::Result<zencast_render::Worker> {
    let c = &backends.config;
    let settings = c.worker_settings();
    Ok(zencast_render::Worker {
        jobs: Arc::new(zencast_render::jobs::Jobs {
            log,
            pool: backends.pool.clone(),
            renderer: zencast_render::WindowRenderer {
                store: ChunkStore::new(&c.s3_settings(s3_addr)),
                settings: c.render_settings(),
            },
            js: backends.js.clone(),
            subjects: backends.subjects.clone(),
            name: settings.name.clone(),
        }),
        progress: zencast_render::progress::Progress {
            nats: backends.nats.clone(),
            redis: backends.redis.clone(),
            subjects: backends.subjects.clone(),
            ttl: c.render_ack_wait(),
        },
        settings,
    })
}

impl Running {
    /// Asks every service to stop and waits for them.
    pub async fn stop(self) {
        self.trigger.trigger();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn until_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Says, in the log and in `/metrics`, which messages JetStream stopped
/// delivering after their consumer's `max_deliver` (one process of the
/// deployment hears each).
async fn report_set_aside(backends: Backends, shutdown: zencast_runtime::Shutdown) {
    let streams = [backends.subjects.stream(), backends.subjects.jobs_stream()];
    zencast_runtime::supervise("set-aside listener", shutdown, || {
        zencast_nats::set_aside::watch(&backends.nats, &backends.js, &streams, |m| {
            tracing::error!(
                consumer = %m.consumer,
                stream = %m.stream,
                stream_seq = m.stream_seq,
                deliveries = m.deliveries,
                subject = m.subject.as_deref().unwrap_or("?"),
                "message set aside after its last delivery; its duty is re-driven from Postgres"
            );
            backends
                .metrics
                .messages_set_aside
                .get_or_create(&vec![("consumer".to_string(), m.consumer)])
                .inc();
        })
    })
    .await
}
