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
//! a heartbeat, fails it ("stopped responding", `worker_lost`) and retries.
//! Lost workers in a row count towards `MAX_WORKERS_LOST`, not the render's own
//! failures. The message is acknowledged only once the render completed or
//! failed for good.
//!
//! The consumer only hears of jobs whose message reached the stream;
//! [`Worker::reconcile`] also asks Postgres, at start-up and periodically, for
//! renders asked for and unfinished, so a lost `SessionCompleted` or
//! `RenderRequested` delays a render by one period, never forever.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::AckKind;
use zencast_eventlog::{duties, CommandError, LogError, Origin};
use zencast_events::{
    Envelope, FilledGap, Layout, Phase, RecordingCommand, RecordingEvent, RoomId,
};
use zencast_runtime::{supervise, Shutdown};

use crate::assemble::{
    assemble, final_key, final_windows, key_of, recorded_windows, Rendered, Report,
};
use crate::consume::{one_at_a_time, Next};
use crate::ingest::Ingest;
use crate::jobs::Jobs;
use crate::media;
use crate::plan::{plan, Mode};
use crate::progress::{Beat, Progress};
use crate::windows::WindowSpec;
use crate::RenderError;

/// Lost workers (killed, their machine gone) in a row, with no window
/// rendered between them, one render request survives before its failure is
/// final: a room whose render takes its worker down every time (out of
/// memory, say) must not do so for ever, but a deployment whose workers die
/// or restart must not fail a render that moves on between the losses.
/// Counted apart from `max_attempts`, the render's own failures.
pub const MAX_WORKERS_LOST: u32 = 10;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// This worker's name, recorded in `RenderStarted`.
    pub name: String,
    /// Failed attempts per render request before `RenderFailed` is final
    /// (lost workers are bounded by `MAX_WORKERS_LOST` instead).
    pub max_attempts: u32,
    /// The first retry waits this long; each further one twice as long.
    pub backoff: Duration,
}

pub struct Worker {
    pub jobs: Arc<Jobs>,
    pub progress: Progress,
    pub settings: WorkerSettings,
}

impl Worker {
    pub async fn run(self: Arc<Self>, consumer: PullConsumer, shutdown: Shutdown) {
        supervise("render worker", shutdown.clone(), || {
            self.consume(consumer.clone())
        })
        .await
    }

    async fn consume(&self, consumer: PullConsumer) -> Result<(), String> {
        one_at_a_time(&consumer, |m| async move {
            let Ok(env) = serde_json::from_slice::<Envelope>(&m.payload) else {
                return Next::Ack;
            };
            if !is_job(&env.event_type) {
                return Next::Ack;
            }
            let keep_alive = move || {
                let beat = m.clone();
                async move {
                    let _ = beat.ack_with(AckKind::Progress).await;
                }
            };
            match self.attend(env.room_id, keep_alive).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(room = %env.room_id, error = %e, "render job failed; retrying");
                    Next::RetryIn(self.settings.backoff)
                }
            }
        })
        .await
    }

    /// Attends, every `period` (and at once), to the renders Postgres says are
    /// asked for, unfinished and quiet for a period. What a message would have
    /// done: the aggregate and the expected-version claim keep it to one
    /// render however many workers and messages also attend.
    pub async fn reconcile(self: Arc<Self>, period: Duration, shutdown: Shutdown) {
        duties::every("render reconciler", period, shutdown, || async {
            let due = duties::unfinished_renders(&self.jobs.pool, period)
                .await
                .map_err(LogError::from)?;
            for room in &due {
                // No message to keep alive: the heartbeat alone says it runs.
                if let Err(e) = self.attend(*room, || async {}).await {
                    tracing::warn!(%room, error = %e, "reconciled render failed; next pass retries");
                }
            }
            Ok::<_, RenderError>(due.len())
        })
        .await
    }

    /// Handles the room's render job once; `keep_alive` is called while
    /// rendering so the job stays with this worker.
    pub async fn attend<F, Fut>(&self, room: RoomId, keep_alive: F) -> Result<Next, RenderError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let Some(state) = self.jobs.log.load(room).await? else {
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
            let last = state.render.workers_lost_in_a_row + 1 >= MAX_WORKERS_LOST;
            let fail = RecordingCommand::FailRender {
                attempt: running,
                reason: format!(
                    "the worker rendering attempt {running} stopped responding (no heartbeat for {} ms)",
                    ttl.as_millis()
                ),
                last,
                worker_lost: true,
            };
            return match self.execute(room, fail).await {
                Ok(_) if last => Ok(Next::Ack),
                // Another worker is at hand now: the windows already rendered
                // are kept, so the next attempt resumes rather than restarts.
                Ok(_) => Ok(Next::RetryIn(self.settings.backoff)),
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
        // This attempt's own failure would be the request's how-manyth.
        let failures = request_attempts - state.render.request_workers_lost;
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
        let _stop_heart = tokio_util::task::AbortOnDropHandle::new(heart);
        let first = beat.lock().expect("beat poisoned").clone();
        self.progress.beat(room, &first).await?;

        let result = async {
            let report: Report = {
                let beat = beat.clone();
                Arc::new(move |stage: &str, percent: f64| {
                    let mut b = beat.lock().expect("beat poisoned");
                    b.stage = stage.to_string();
                    b.percent = percent;
                })
            };
            self.render(room, layout, forced, report).await
        }
        .await;

        match result {
            Ok((rendered, filled_gaps)) => {
                tracing::info!(
                    %room,
                    windows = rendered.windows_total,
                    rendered_now = rendered.windows_rendered,
                    "assembled"
                );
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
                let last = matches!(error, RenderError::Plan(_)) || failures >= max;
                tracing::warn!(%room, attempt, last, %error, "render failed");
                let fail = RecordingCommand::FailRender {
                    attempt,
                    reason: error.public_reason(),
                    last,
                    worker_lost: false,
                };
                match self.execute(room, fail).await {
                    Ok(_) | Err(CommandError::Rejected(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(if last {
                    Next::Ack
                } else {
                    Next::RetryIn(self.backoff(failures))
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
        self.jobs.log.execute(room, command, &origin).await
    }

    /// Reads every chunk still without a verdict: each participant's in
    /// turn, waiting for an ingest reader that holds one (`Ingest::attend`
    /// takes a participant's claim) and reading whatever none has taken yet
    /// (the stream lags, or no reader runs), so no chunk is read twice.
    async fn await_ingest(&self, room: RoomId, report: &Report) -> Result<(), RenderError> {
        let jobs = &self.jobs;
        let plan = plan(&jobs.events(room).await?, Mode::Live)?;
        if plan.unread_chunks() == 0 {
            return Ok(());
        }
        report("reading chunks", 0.0);
        let ingest = Ingest { jobs: jobs.clone() };
        for track in plan.tracks.iter().rev() {
            ingest.attend(room, track.participant).await?;
        }
        Ok(())
    }

    /// The render of a completed session: the windows not rendered yet (other
    /// workers are asked to help through window jobs; this one works from the
    /// last backwards, skipping what others finished), then the assembly.
    async fn render(
        &self,
        room: RoomId,
        layout: Layout,
        forced: bool,
        report: Report,
    ) -> Result<(Rendered, Vec<FilledGap>), RenderError> {
        let jobs = &self.jobs;
        self.await_ingest(room, &report).await?;
        let events = jobs.events(room).await?;
        let plan = plan(&events, Mode::Final { force: forced })?;
        let specs = final_windows(&plan);
        let known = recorded_windows(&events);
        let missing: Vec<&WindowSpec> = specs
            .iter()
            .filter(|s| !known.contains_key(&key_of(&plan, layout, s)))
            .collect();
        for spec in &missing {
            // Help from other workers is welcome, not needed.
            if let Err(e) = jobs
                .publish(room, layout, spec, &key_of(&plan, layout, spec))
                .await
            {
                tracing::warn!(%room, error = %e, "window job not published");
                break;
            }
        }
        // Window workers take jobs from the first; this one renders from the
        // last backwards, reading the log before each, so the two meet once
        // instead of rendering the same windows side by side.
        let total = specs.len();
        let mut made = 0;
        for spec in missing.iter().rev() {
            let known = recorded_windows(&jobs.events(room).await?);
            let done = specs
                .iter()
                .filter(|s| known.contains_key(&key_of(&plan, layout, s)))
                .count();
            let base = 90.0 * done as f64 / total as f64;
            report("encoding", base);
            let progress: crate::window::Progress = {
                let report = report.clone();
                Arc::new(move |f: f64| report("encoding", base + 90.0 * f / total as f64))
            };
            let (_, new) = jobs.ensure(room, &plan, layout, spec, progress).await?;
            made += usize::from(new);
        }
        let known = recorded_windows(&jobs.events(room).await?);
        let done: Vec<(WindowSpec, String)> = specs
            .iter()
            .map(|s| {
                let prefix = known
                    .get(&key_of(&plan, layout, s))
                    .cloned()
                    .ok_or_else(|| {
                        RenderError::Media(format!("window {} is not in the log", s.index))
                    })?;
                Ok((s.clone(), prefix))
            })
            .collect::<Result<_, RenderError>>()?;
        report("assembling", 90.0);
        let dir = media::scratch(&jobs.renderer.settings.work_dir, "assemble-").await?;
        let (outputs, final_size) =
            assemble(&jobs.renderer, room, &plan, &done, dir.path()).await?;
        report("uploading", 100.0);
        let duration = done.last().map_or(0.0, |(s, _)| s.to);
        Ok((
            Rendered {
                outputs,
                final_key: final_key(room),
                final_size,
                duration_ms: (duration * 1000.0).round() as u64,
                windows_rendered: made,
                windows_total: total,
            },
            plan.gaps,
        ))
    }
}

fn is_job(event_type: &str) -> bool {
    matches!(event_type, "SessionCompleted" | "RenderRequested")
}
