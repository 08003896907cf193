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
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use zencast_events::{Envelope, Layout, RecordingCommand, RecordingEvent, RoomId};
use zencast_nats::log::room_events;
use zencast_nats::{supervise, CommandError, EventLog, Origin, Shutdown, Subjects};

use crate::assemble::{key_of, recorded_windows};
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
        if recorded_windows(&events).contains_key(&key_of(&plan, job.layout, &spec)) {
            return Ok(());
        }
        let prefix = window::prefix(job.room, job.layout, &spec, &plan);
        self.renderer
            .render(
                &plan,
                &spec,
                job.layout,
                &prefix,
                std::sync::Arc::new(|_| {}),
            )
            .await?;
        self.record(job.room, &plan, job.layout, &spec, prefix)
            .await
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

/// The window-job consumer: one job at a time.
pub async fn run_windows(jobs: Arc<Jobs>, consumer: PullConsumer, shutdown: Shutdown) {
    supervise::<_, _, String>("window worker", shutdown, || {
        let (jobs, consumer) = (jobs.clone(), consumer.clone());
        async move {
            loop {
                let mut batch = consumer
                    .batch()
                    .max_messages(1)
                    .expires(Duration::from_secs(5))
                    .messages()
                    .await
                    .map_err(|e| e.to_string())?;
                while let Some(m) = batch.next().await {
                    let m = m.map_err(|e| e.to_string())?;
                    let result = match serde_json::from_slice::<WindowJob>(&m.payload) {
                        Ok(job) => jobs.attend(&job).await,
                        Err(_) => Ok(()),
                    };
                    let _ = match result {
                        Ok(()) => m.double_ack().await,
                        Err(e) => {
                            tracing::warn!(error = %e, "window job failed; retrying");
                            m.ack_with(async_nats::jetstream::AckKind::Nak(Some(
                                Duration::from_secs(2),
                            )))
                            .await
                        }
                    };
                }
            }
        }
    })
    .await
}

/// The ingest consumer of `ChunkUploaded`: one message at a time.
pub async fn run_ingest(ingest: Arc<Ingest>, consumer: PullConsumer, shutdown: Shutdown) {
    supervise::<_, _, String>("ingest worker", shutdown, || {
        let (ingest, consumer) = (ingest.clone(), consumer.clone());
        async move {
            loop {
                let mut batch = consumer
                    .batch()
                    .max_messages(1)
                    .expires(Duration::from_secs(5))
                    .messages()
                    .await
                    .map_err(|e| e.to_string())?;
                while let Some(m) = batch.next().await {
                    let m = m.map_err(|e| e.to_string())?;
                    let chunk = serde_json::from_slice::<Envelope>(&m.payload)
                        .ok()
                        .and_then(|env| match env.event().ok()? {
                            RecordingEvent::ChunkUploaded { participant, .. } => {
                                Some((env.room_id, participant))
                            }
                            _ => None,
                        });
                    let result = match chunk {
                        Some((room, participant)) => ingest.attend(room, participant).await,
                        None => Ok(()),
                    };
                    let _ = match result {
                        Ok(()) => m.double_ack().await,
                        Err(e) => {
                            tracing::warn!(error = %e, "ingest failed; retrying");
                            m.ack_with(async_nats::jetstream::AckKind::Nak(Some(
                                Duration::from_secs(1),
                            )))
                            .await
                        }
                    };
                }
            }
        }
    })
    .await
}
