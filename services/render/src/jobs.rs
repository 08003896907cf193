//! Window jobs on NATS: any render worker takes any window.
//!
//! A job names a room, a layout and a window index; the worker reads the room
//! from the Postgres log, works out the window (its span and its people) and
//! renders it unless the log already has it. Jobs go to the work-queue stream
//! `{PREFIX}_JOBS` with `Nats-Msg-Id` naming the window, so a window made due
//! twice is queued once; a job that is lost is published again by the next
//! chunk's ingest, and the assembly renders whatever is still missing itself.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use zencast_eventlog::log::room_events;
use zencast_eventlog::{CommandError, EventLog, Origin};
use zencast_events::{Envelope, Layout, RecordingCommand, RecordingEvent, RoomId};
use zencast_nats::Subjects;
use zencast_runtime::{supervise, Shutdown};

use crate::assemble::{key_of, recorded_windows};
use crate::consume::{one_at_a_time, Next};
use crate::ingest::Ingest;
use crate::plan::{plan, Mode, Plan};
use crate::window::{self, WindowRenderer};
use crate::windows::{self, WindowSpec};
use crate::RenderError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WindowJob {
    pub room: RoomId,
    pub layout: Layout,
    pub index: u32,
}

/// What window work needs: the log, the store, the job queue.
pub struct Jobs {
    pub log: Arc<EventLog>,
    pub pool: PgPool,
    pub renderer: WindowRenderer,
    pub js: async_nats::jetstream::Context,
    pub subjects: Subjects,
    /// This worker's name, recorded in `WindowRendered`.
    pub name: String,
}

/// The layout the room renders with now: the latest request's, else its own.
pub fn room_layout(events: &[Envelope]) -> Layout {
    events
        .iter()
        .filter_map(|e| match e.event().ok()? {
            RecordingEvent::RoomCreated { layout, .. } => Some(layout),
            RecordingEvent::RenderRequested { layout, .. } => Some(layout),
            _ => None,
        })
        .last()
        .unwrap_or_default()
}

impl Jobs {
    pub async fn events(&self, room: RoomId) -> Result<Vec<Envelope>, RenderError> {
        Ok(room_events(&self.pool, room, 0, None).await?)
    }

    pub async fn execute(
        &self,
        room: RoomId,
        command: RecordingCommand,
    ) -> Result<Vec<Envelope>, CommandError> {
        let origin = Origin::now(format!("render:{}", self.name));
        self.log.execute(room, command, &origin).await
    }

    /// Publishes a job for every window that is final and not rendered yet.
    pub async fn publish_due(&self, room: RoomId) -> Result<(), RenderError> {
        let events = self.events(room).await?;
        let layout = room_layout(&events);
        let Ok(plan) = plan(&events, Mode::Live) else {
            return Ok(());
        };
        let known = recorded_windows(&events);
        for spec in windows::live(&plan) {
            let key = key_of(&plan, layout, &spec);
            if !known.contains_key(&key) {
                self.publish(room, layout, &spec, &key).await?;
            }
        }
        Ok(())
    }

    pub async fn publish(
        &self,
        room: RoomId,
        layout: Layout,
        spec: &WindowSpec,
        key: &str,
    ) -> Result<(), RenderError> {
        let job = WindowJob {
            room,
            layout,
            index: spec.index,
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{room}/{key}").as_str());
        let body = serde_json::to_vec(&job).expect("a job serialises");
        self.js
            .publish_with_headers(self.subjects.window_job(room), headers, body.into())
            .await
            .map_err(|e| RenderError::Media(format!("publishing a window job: {e}")))?
            .await
            .map_err(|e| RenderError::Media(format!("publishing a window job: {e}")))?;
        Ok(())
    }

    /// Renders the job's window unless the log has it.
    pub async fn attend(&self, job: &WindowJob) -> Result<(), RenderError> {
        let events = self.events(job.room).await?;
        let completed = events.iter().any(|e| e.event_type == "SessionCompleted");
        let mode = if completed {
            Mode::Final { force: false }
        } else {
            Mode::Live
        };
        let Ok(plan) = plan(&events, mode) else {
            return Ok(());
        };
        let specs = if completed {
            windows::all(&plan, plan.duration())
        } else {
            windows::live(&plan)
        };
        let Some(spec) = specs.into_iter().find(|s| s.index == job.index) else {
            return Ok(());
        };
        let no_progress: window::Progress = Arc::new(|_| {});
        self.ensure(job.room, &plan, job.layout, &spec, no_progress)
            .await?;
        Ok(())
    }

    /// Renders a window unless the log has it (`WindowRendered`); its prefix,
    /// and whether this call rendered it.
    ///
    /// One render of a window at a time, across workers: the assembly going
    /// backwards and the window consumer going forwards meet at one window,
    /// and the second waits for the first instead of encoding it again. The
    /// claim is a transaction-scoped advisory lock, so a killed worker's
    /// claim ends with its connection.
    pub async fn ensure(
        &self,
        room: RoomId,
        plan: &Plan,
        layout: Layout,
        spec: &WindowSpec,
        progress: window::Progress,
    ) -> Result<(String, bool), RenderError> {
        let key = key_of(plan, layout, spec);
        let recorded = |events: &[Envelope]| recorded_windows(events).remove(&key);
        if let Some(prefix) = recorded(&self.events(room).await?) {
            return Ok((prefix, false));
        }
        let claim = self.claim(&format!("window/{room}/{key}")).await?;
        if let Some(prefix) = recorded(&self.events(room).await?) {
            return Ok((prefix, false));
        }
        let prefix = window::prefix(room, layout, spec, plan);
        self.renderer
            .render(room, plan, spec, layout, &prefix, progress)
            .await?;
        self.record(room, plan, layout, spec, prefix.clone())
            .await?;
        claim.commit().await?;
        Ok((prefix, true))
    }

    /// Waits until no other worker holds `what`, and holds it until the
    /// transaction ends (committed, or dropped: also when the process dies).
    pub async fn claim(
        &self,
        what: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, RenderError> {
        let mut claim = self.pool.begin().await?;
        // Asked again and again rather than waited for in one statement: a
        // wait of seconds is normal here, not a slow query to warn about.
        loop {
            let held: bool =
                sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(what)
                    .fetch_one(&mut *claim)
                    .await?;
            if held {
                return Ok(claim);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn record(
        &self,
        room: RoomId,
        plan: &Plan,
        layout: Layout,
        spec: &WindowSpec,
        prefix: String,
    ) -> Result<(), RenderError> {
        let command = RecordingCommand::RecordWindow {
            layout,
            index: spec.index,
            from_ms: spec.from_ms(),
            to_ms: spec.to_ms(),
            tracks: spec.people(plan),
            prefix,
            worker: self.name.clone(),
        };
        self.execute(room, command).await?;
        tracing::info!(%room, index = spec.index, "window rendered");
        Ok(())
    }
}

/// The window-job consumer: one job at a time (`Jobs::ensure` renders each
/// window once, whichever worker or assembly asks first).
pub async fn run_windows(jobs: Arc<Jobs>, consumer: PullConsumer, shutdown: Shutdown) {
    supervise("window worker", shutdown, || {
        one_at_a_time(&consumer, |m| {
            let jobs = jobs.clone();
            async move {
                let Ok(job) = serde_json::from_slice::<WindowJob>(&m.payload) else {
                    return Next::Ack;
                };
                retry_on_error("window job", jobs.attend(&job).await)
            }
        })
    })
    .await
}

/// The ingest consumer of `ChunkUploaded`: one message at a time (run
/// several side by side; `Ingest::attend` reads one participant at a time).
pub async fn run_ingest(ingest: Arc<Ingest>, consumer: PullConsumer, shutdown: Shutdown) {
    supervise("ingest worker", shutdown, || {
        one_at_a_time(&consumer, |m| {
            let ingest = ingest.clone();
            async move {
                let chunk = serde_json::from_slice::<Envelope>(&m.payload)
                    .ok()
                    .and_then(|env| match env.event().ok()? {
                        RecordingEvent::ChunkUploaded { participant, .. } => {
                            Some((env.room_id, participant))
                        }
                        _ => None,
                    });
                let Some((room, participant)) = chunk else {
                    return Next::Ack;
                };
                retry_on_error("ingest", ingest.attend(room, participant).await)
            }
        })
    })
    .await
}

fn retry_on_error(what: &str, result: Result<(), RenderError>) -> Next {
    match result {
        Ok(()) => Next::Ack,
        Err(e) => {
            tracing::warn!(error = %e, "{what} failed; retrying");
            Next::Failed
        }
    }
}
