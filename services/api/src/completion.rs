//! The grace period after stop: a durable JetStream consumer (`completion`) on
//! `RecordingStopped` events. A message whose grace period has not run out is
//! handed back to JetStream with a delay until it has (a NAK with delay), so no
//! timer lives in any process: a restart, or another api node, picks it up.
//! When it runs out, `ExpireGracePeriod` completes the session if nobody else
//! has (the aggregate makes a second completion a no-op).
//!
//! The consumer only hears of `RecordingStopped` events that reached the
//! stream; [`reconcile`] also asks Postgres, at start-up and periodically, for
//! rooms stopped longer than the grace period ago and not completed, so a lost
//! message delays a completion by one period at most.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::AckKind;
use futures::StreamExt;
use zencast_eventlog::{duties, CommandError, EventLog, Origin};
use zencast_events::{Envelope, RecordingCommand, RecordingEvent, SYSTEM_ACTOR};
use zencast_nats::stream::retry_after_failure;
use zencast_runtime::{supervise, Shutdown};

pub const COMPLETION_CONSUMER: &str = "completion";

pub struct GraceWatcher {
    pub consumer: PullConsumer,
    pub log: Arc<EventLog>,
    pub grace: Duration,
}

impl GraceWatcher {
    pub async fn run(self, shutdown: Shutdown) {
        supervise("grace watcher", shutdown.clone(), || self.consume()).await
    }

    async fn consume(&self) -> Result<(), String> {
        let mut messages = self.consumer.messages().await.map_err(|e| e.to_string())?;
        while let Some(m) = messages.next().await {
            let m = m.map_err(|e| e.to_string())?;
            let Ok(env) = serde_json::from_slice::<Envelope>(&m.payload) else {
                let _ = m.ack_with(AckKind::Term).await;
                continue;
            };
            let Ok(RecordingEvent::RecordingStopped { at }) = env.event() else {
                let _ = m.ack().await;
                continue;
            };
            let due = at + chrono::Duration::from_std(self.grace).unwrap_or_default();
            let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
            if !wait.is_zero() {
                let _ = m.ack_with(AckKind::Nak(Some(wait))).await;
                continue;
            }
            let expire = RecordingCommand::ExpireGracePeriod;
            match self
                .log
                .execute(env.room_id, expire, &Origin::now(SYSTEM_ACTOR))
                .await
            {
                Ok(_) | Err(CommandError::Rejected(_)) => {
                    let _ = m.double_ack().await;
                }
                Err(e) => {
                    tracing::warn!(room = %env.room_id, error = %e, "could not complete the session; retrying");
                    let _ = m.ack_with(retry_after_failure(&m)).await;
                }
            }
        }
        Err("message stream ended".into())
    }
}

/// Completes, every `period` (and at once), the sessions Postgres says are
/// past their grace period.
pub async fn reconcile(log: Arc<EventLog>, grace: Duration, period: Duration, shutdown: Shutdown) {
    duties::every("completion reconciler", period, shutdown, || async {
        let due = duties::overdue_completions(log.pool(), grace).await?;
        for room in &due {
            let expire = RecordingCommand::ExpireGracePeriod;
            match log.execute(*room, expire, &Origin::now(SYSTEM_ACTOR)).await {
                Ok(events) if !events.is_empty() => {
                    tracing::info!(%room, "completed a session past its grace period (from Postgres)")
                }
                Ok(_) | Err(CommandError::Rejected(_)) => {}
                Err(e) => tracing::warn!(%room, error = %e, "could not complete the session"),
            }
        }
        Ok::<_, sqlx::Error>(due.len())
    })
    .await
}
