//! Starting the services: any subset in one process (`zencast up` starts all).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use chrono::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use zencast_api::tokens::Tokens;
use zencast_api::AppState;
use zencast_events::Envelope;
use zencast_nats::outbox::Relay;
use zencast_nats::{stream, EventLog, ShutdownTrigger};
use zencast_projections::{Projector, RoomState};

use crate::backends::Backends;

/// Which services to run.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub api: bool,
    pub relay: bool,
    pub projector: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        api: true,
        relay: true,
        projector: true,
    };
}

/// Services running in this process.
pub struct Running {
    pub backends: Backends,
    /// Where the api listens, when it runs.
    pub http_addr: Option<SocketAddr>,
    /// Events as the projector makes them visible, when it runs.
    pub projected: Option<broadcast::Sender<Arc<Envelope>>>,
    pub log: Arc<EventLog>,
    trigger: ShutdownTrigger,
    tasks: Vec<JoinHandle<()>>,
}

pub async fn start(backends: Backends, parts: Parts) -> anyhow::Result<Running> {
    let (trigger, shutdown) = zencast_nats::shutdown_pair();
    let log = Arc::new(EventLog::new(
        backends.pool.clone(),
        backends.metrics.clone(),
    ));
    let mut tasks = Vec::new();
    let mut projected = None;
    let mut http_addr = None;

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
        )
        .await?;
        let projector = Projector::new(
            consumer,
            RoomState::new(backends.redis.clone(), backends.subjects.prefix()),
            backends.pool.clone(),
            backends.metrics.clone(),
        );
        projected = Some(projector.applied());
        tasks.push(tokio::spawn(projector.run(shutdown.clone())));
    }

    if parts.api {
        let secret = backends.config.token_secret()?;
        let listener = tokio::net::TcpListener::bind(backends.config.http_addr).await?;
        let addr = listener.local_addr()?;
        let state = AppState {
            log: log.clone(),
            pool: backends.pool.clone(),
            redis: backends.redis.clone(),
            nats: backends.nats.clone(),
            subjects: backends.subjects.clone(),
            tokens: Tokens::new(&secret, Duration::hours(24)),
            metrics: backends.metrics.clone(),
            settings: backends.config.settings(addr),
        };
        http_addr = Some(addr);
        let mut stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            // Signaling frames are small and latency-bound: no Nagle delay.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let served = axum::serve(listener, zencast_api::router(state))
                .with_graceful_shutdown(async move { stop.wait().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "api server stopped");
            }
        }));
    }

    Ok(Running {
        backends,
        http_addr,
        projected,
        log,
        trigger,
        tasks,
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
