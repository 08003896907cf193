//! The projector: the durable JetStream consumer `projector`, applying each
//! event to the Redis room state. Idempotent (the sequence guard skips what is
//! already applied) and self-healing (a gap is filled from the Postgres log, so
//! a lost or reordered message cannot leave a room wrong).
//!
//! A gap is only noticed when a later event of the room arrives; a room whose
//! last events never reach the stream would stay behind. [`Projector::reconcile`]
//! asks Postgres, at start-up and periodically, for the rooms with recent
//! events and brings any that is behind up to its last sequence.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use zencast_eventlog::duties;
use zencast_eventlog::log::room_events;
use zencast_events::Envelope;
use zencast_nats::stream::retry_after_failure;
use zencast_runtime::{supervise, Metrics, Shutdown};

use crate::room_state::{Outcome, RoomState};
use crate::ProjectionError;

/// How far back the reconciler looks for rooms with events: at start-up (a
/// projector that was down, or a Redis that lost its data), then on each pass.
/// Older rooms are rebuilt by `zencast replay`.
const LOOKBACK_AT_START: Duration = Duration::from_secs(7 * 24 * 3600);
const LOOKBACK: Duration = Duration::from_secs(3600);

/// Events of different rooms are applied in parallel by this many workers; one
/// room's events always go to the same worker, so they stay in order.
const WORKERS: usize = 8;

#[derive(Clone)]
pub struct Projector {
    consumer: PullConsumer,
    state: RoomState,
    pool: PgPool,
    metrics: Arc<Metrics>,
    applied: broadcast::Sender<Arc<Envelope>>,
}

impl Projector {
    pub fn new(
        consumer: PullConsumer,
        state: RoomState,
        pool: PgPool,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (applied, _) = broadcast::channel(4096);
        Self {
            consumer,
            state,
            pool,
            metrics,
            applied,
        }
    }

    /// Every event once it is visible in Redis, for live pushes and benchmarks.
    pub fn applied(&self) -> broadcast::Sender<Arc<Envelope>> {
        self.applied.clone()
    }

    pub async fn run(self, shutdown: Shutdown) {
        supervise("projector", shutdown.clone(), || self.consume()).await
    }

    async fn consume(&self) -> Result<(), ProjectionError> {
        let mut messages = self
            .consumer
            .messages()
            .await
            .map_err(|e| ProjectionError::Nats(e.to_string()))?;
        let mut workers = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            let (tx, mut rx) = mpsc::channel::<(Envelope, Message)>(256);
            let me = self.clone();
            tokio::spawn(async move {
                while let Some((env, message)) = rx.recv().await {
                    me.settle(&env, message).await;
                }
            });
            workers.push(tx);
        }
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| ProjectionError::Nats(e.to_string()))?;
            let env: Envelope = match serde_json::from_slice(&message.payload) {
                Ok(env) => env,
                Err(e) => {
                    // Not ours to fix by retrying: the log in Postgres is the
                    // record, and replay rebuilds from it.
                    tracing::error!(subject = %message.subject, error = %e, "unreadable event on the stream; skipped");
                    let _ = message.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            let shard = (env.room_id.as_uuid().as_u128() % WORKERS as u128) as usize;
            if workers[shard].send((env, message)).await.is_err() {
                return Err(ProjectionError::Nats("projector worker stopped".into()));
            }
        }
        Err(ProjectionError::Nats("message stream ended".into()))
    }

    /// Applies and acknowledges one message, or asks for it again.
    async fn settle(&self, env: &Envelope, message: Message) {
        match self.project(env).await {
            Ok(()) => {
                let _ = message.ack().await;
            }
            Err(e) => {
                tracing::warn!(room = %env.room_id, sequence = env.sequence, error = %e, "projection failed; redelivering");
                let _ = message.ack_with(retry_after_failure(&message)).await;
            }
        }
    }

    /// Applies one event, filling any gap before it from Postgres.
    pub async fn project(&self, env: &Envelope) -> Result<(), ProjectionError> {
        match self.state.apply(env).await? {
            Outcome::Applied => self.applied_one(env),
            Outcome::AlreadyApplied => {}
            Outcome::Gap { last_applied } => {
                let missing = room_events(
                    &self.pool,
                    env.room_id,
                    last_applied,
                    Some(env.sequence - 1),
                )
                .await?;
                self.metrics
                    .projection_gaps_filled
                    .inc_by(missing.len() as u64);
                for e in missing.iter().chain(std::iter::once(env)) {
                    if self.state.apply(e).await? == Outcome::Applied {
                        self.applied_one(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Brings every room with recent events that is behind its log up to its
    /// last sequence, every `period` (and at once). Rooms whose last event is
    /// younger than a period are left to the stream.
    pub async fn reconcile(self, period: Duration, shutdown: Shutdown) {
        let first = AtomicBool::new(true);
        duties::every("projection reconciler", period, shutdown, || async {
            let lookback = if first.swap(false, Ordering::Relaxed) {
                LOOKBACK_AT_START
            } else {
                LOOKBACK.max(period * 10)
            };
            let mut behind = 0;
            let active = duties::recently_active(&self.pool, lookback, period)
                .await
                .map_err(zencast_eventlog::LogError::from)?;
            for (room, last) in active {
                if self.state.last_sequence(room).await? < last {
                    self.catch_up(room).await?;
                    behind += 1;
                }
            }
            Ok::<_, ProjectionError>(behind)
        })
        .await
    }

    /// Applies the room's logged events after its last applied one. Safe beside
    /// the live consumer: each apply is guarded by the sequence in Redis.
    pub async fn catch_up(&self, room: zencast_events::RoomId) -> Result<(), ProjectionError> {
        let applied = crate::fresh::catch_up(&self.pool, &self.state, room).await?;
        if !applied.is_empty() {
            tracing::info!(%room, events = applied.len(), "projection caught up with the log");
        }
        self.metrics
            .projection_gaps_filled
            .inc_by(applied.len() as u64);
        for e in &applied {
            self.applied_one(e);
        }
        Ok(())
    }

    fn applied_one(&self, env: &Envelope) {
        self.metrics.events_projected.inc();
        let _ = self.applied.send(Arc::new(env.clone()));
    }
}
