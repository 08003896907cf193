//! The render consumer: a worker on the durable JetStream consumer `render`.
//!
//! It takes one message at a time. `SessionCompleted` and `RenderRequested`
//! are jobs; every other event is acknowledged at once. For a job it reads the
//! room from the Postgres log (the chunk set of every participant comes from
//! its `ChunkUploaded` events; several workers share the consumer, so no worker
//! has seen all of a room's messages) and then:
//!
//! - claims the next attempt with `StartRender`, appended with the expected
//!   version, so of several workers exactly one wins;
//! - renders while beating (Redis heartbeat, progress on NATS, and
//!   `AckKind::Progress` so JetStream does not hand the job to another worker);
//! - appends `RenderCompleted`, or `RenderFailed` and hands the message back
//!   with a backoff delay, until the attempts are used up (`last: true`).
//!
//! A worker killed mid-render stops beating and acking: JetStream redelivers
//! the job after the ack wait, the next worker sees a running attempt without
//! a heartbeat, fails it ("stopped responding") and retries. The message is
//! acknowledged only once the render completed or failed for good.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::AckKind;
use futures::StreamExt;
use sqlx::PgPool;
use zencast_events::{Envelope, Phase, RecordingCommand, RecordingEvent, RoomId};
use zencast_nats::log::room_events;
use zencast_nats::{supervise, CommandError, EventLog, Origin, Shutdown};

use crate::plan::plan;
use crate::progress::{Beat, Progress};
use crate::render::Renderer;
use crate::RenderError;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// This worker's name, recorded in `RenderStarted`.
    pub name: String,
    /// Attempts per render request before `RenderFailed` is final.
    pub max_attempts: u32,
    /// The first retry waits this long; each further one twice as long.
    pub backoff: Duration,
}

pub struct Worker {
    pub log: Arc<EventLog>,
    pub pool: PgPool,
    pub renderer: Renderer,
    pub progress: Progress,
    pub settings: WorkerSettings,
}

/// What to do with the job's message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Done with it: completed, failed for good, or not a job.
    Ack,
    /// Look again after this long.
    RetryIn(Duration),
}

impl Worker {
    pub async fn run(self: Arc<Self>, consumer: PullConsumer, shutdown: Shutdown) {
        supervise("render worker", shutdown.clone(), || {
            self.consume(consumer.clone())
        })
        .await
    }

    async fn consume(&self, consumer: PullConsumer) -> Result<(), String> {
        loop {
            // One message at a time: a render holds this worker, and messages
            // it has not started stay free for the other workers. (`batch`
            // waits for a message; `fetch` would return at once and spin.)
            let mut batch = consumer
                .batch()
                .max_messages(1)
                .expires(Duration::from_secs(5))
                .messages()
                .await
                .map_err(|e| e.to_string())?;
            while let Some(m) = batch.next().await {
                let m = m.map_err(|e| e.to_string())?;
                let next = match serde_json::from_slice::<Envelope>(&m.payload) {
                    Ok(env) if is_job(&env.event_type) => {
                        let beat = m.clone();
                        match self
                            .attend(env.room_id, move || {
                                let beat = beat.clone();
                                async move {
                                    let _ = beat.ack_with(AckKind::Progress).await;
                                }
                            })
                            .await
                        {
                            Ok(next) => next,
                            Err(e) => {
                                tracing::warn!(room = %env.room_id, error = %e, "render job failed; retrying");
                                Next::RetryIn(self.settings.backoff)
                            }
                        }
                    }
                    _ => Next::Ack,
                };
                let _ = match next {
                    Next::Ack => m.double_ack().await,
                    Next::RetryIn(d) => m.ack_with(AckKind::Nak(Some(d))).await,
                };
            }
        }
    }

    /// Handles the room's render job once; `keep_alive` is called while
    /// rendering so the job stays with this worker.
    pub async fn attend<F, Fut>(&self, room: RoomId, keep_alive: F) -> Result<Next, RenderError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let Some(state) = self.log.load(room).await? else {
            return Ok(Next::Ack);
        };
        if state.phase != Phase::Completed || state.render.completed || state.render.failed {
            return Ok(Next::Ack);
        }
        let max = self.settings.max_attempts;
        let ttl = self.progress.ttl;
        if let Some(running) = state.render.running {
            if self.progress.alive(room, running).await? {
                return Ok(Next::RetryIn(ttl));
            }
            // A claim that has not beaten yet gets one ttl to do so.
            tokio::time::sleep(ttl).await;
            if self.progress.alive(room, running).await? {
                return Ok(Next::RetryIn(ttl));
            }
            let last = state.render.request_attempts >= max;
            let fail = RecordingCommand::FailRender {
                attempt: running,
                reason: format!(
                    "the worker rendering attempt {running} stopped responding (no heartbeat for {} ms)",
                    ttl.as_millis()
                ),
                last,
            };
            return match self.execute(room, fail).await {
                Ok(_) if last => Ok(Next::Ack),
                Ok(_) => Ok(Next::RetryIn(self.backoff(state.render.request_attempts))),
                Err(CommandError::Rejected(_)) => Ok(Next::RetryIn(Duration::from_millis(200))),
                Err(e) => Err(e.into()),
            };
        }

        let attempt = state.render.attempts + 1;
        let claim = RecordingCommand::StartRender {
            worker: self.settings.name.clone(),
            attempt,
        };
        let started = match self.execute(room, claim).await {
            Ok(events) => events,
            // Another worker won this attempt: look again once it should be done.
            Err(CommandError::Rejected(_)) => return Ok(Next::RetryIn(ttl)),
            Err(e) => return Err(e.into()),
        };
        let Some(Ok(RecordingEvent::RenderStarted { layout, forced, .. })) =
            started.first().map(Envelope::event)
        else {
            return Ok(Next::RetryIn(ttl));
        };
        let request_attempts = state.render.request_attempts + 1;
        tracing::info!(%room, attempt, layout = layout.as_str(), forced, "render started");

        // Beat until the render ends.
        let beat = Arc::new(Mutex::new(Beat {
            attempt,
            worker: self.settings.name.clone(),
            stage: "starting".into(),
            percent: 0.0,
        }));
        let heart = {
            let beat = beat.clone();
            let progress = self.progress.clone();
            let every = (ttl / 3).min(Duration::from_secs(1));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    let now = beat.lock().expect("beat poisoned").clone();
                    if let Err(e) = progress.beat(room, &now).await {
                        tracing::warn!(%room, error = %e, "render heartbeat failed");
                    }
                    keep_alive().await;
                }
            })
        };
        let _stop_heart = AbortOnDrop(heart);
        let first = beat.lock().expect("beat poisoned").clone();
        self.progress.beat(room, &first).await?;

        let result = async {
            let events = room_events(&self.pool, room, 0, None).await?;
            let plan = plan(&events, forced)?;
            let report: crate::render::Report = {
                let beat = beat.clone();
                Arc::new(move |stage: &str, percent: f64| {
                    let mut b = beat.lock().expect("beat poisoned");
                    b.stage = stage.to_string();
                    b.percent = percent;
                })
            };
            let rendered = self
                .renderer
                .render(room, attempt, &plan, layout, report)
                .await?;
            Ok::<_, RenderError>((rendered, plan.gaps))
        }
        .await;

        match result {
            Ok((rendered, filled_gaps)) => {
                // The last word of progress, whatever the heartbeat's timing.
                let last = {
                    let mut b = beat.lock().expect("beat poisoned");
                    b.stage = "done".into();
                    b.percent = 100.0;
                    b.clone()
                };
                let _ = self.progress.beat(room, &last).await;
                let done = RecordingCommand::CompleteRender {
                    attempt,
                    key: rendered.final_key,
                    size: rendered.final_size,
                    duration_ms: rendered.duration_ms,
                    outputs: rendered.outputs,
                    filled_gaps,
                };
                match self.execute(room, done).await {
                    Ok(_) => tracing::info!(%room, attempt, "render completed"),
                    // Presumed dead meanwhile and failed by another worker: the
                    // retry it started will write the same files.
                    Err(CommandError::Rejected(e)) => {
                        tracing::warn!(%room, attempt, error = %e, "render finished after it was given up")
                    }
                    Err(e) => return Err(e.into()),
                }
                Ok(Next::Ack)
            }
            Err(error) => {
                // A plan that cannot be rendered does not get better by retrying.
                let last = matches!(error, RenderError::Plan(_)) || request_attempts >= max;
                tracing::warn!(%room, attempt, last, %error, "render failed");
                let fail = RecordingCommand::FailRender {
                    attempt,
                    reason: error.to_string(),
                    last,
                };
                match self.execute(room, fail).await {
                    Ok(_) | Err(CommandError::Rejected(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(if last {
                    Next::Ack
                } else {
                    Next::RetryIn(self.backoff(request_attempts))
                })
            }
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        self.settings.backoff * 2u32.pow(attempts.saturating_sub(1).min(6))
    }

    async fn execute(
        &self,
        room: RoomId,
        command: RecordingCommand,
    ) -> Result<Vec<Envelope>, CommandError> {
        let origin = Origin::now(format!("render:{}", self.settings.name));
        self.log.execute(room, command, &origin).await
    }
}

fn is_job(event_type: &str) -> bool {
    matches!(event_type, "SessionCompleted" | "RenderRequested")
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
