//! The media workers: they turn a session's chunks into the files a
//! podcaster publishes — `processed/{roomId}/final.mp4` (composed with the
//! room's layout, audio mixed and loudness-normalised to −16 LUFS) and, per
//! participant, an aligned WAV and MP4 under `processed/{roomId}/tracks/` —
//! mostly while the session is still being recorded.
//!
//! The path of a chunk: `ChunkUploaded` → [`ingest`] reads it at once
//! (`ChunkProbed` or `ChunkRejected`) → the windows of the timeline that every
//! participant has stored become [`jobs`] any worker takes → [`window`]
//! renders one (`WindowRendered`) → on `SessionCompleted` the [`worker`]
//! claims the render, renders what is left and [`assemble`]s the windows by
//! stream copies (`RenderCompleted`).
//!
//! # Layout
//! - [`plan`]: from the room's events to pieces of chunks on the timeline,
//!   how far each participant is stored, the session's length; gaps.
//! - [`windows`]: the timeline in windows; which slices of a recording a window reads.
//! - [`layout`]: layouts as data. [`speaker`]: who speaks when.
//! - [`graph`]: the ffmpeg command lines of a window (audio pass, video pass).
//! - [`aac`]: cutting and joining AAC frames without a click.
//! - [`webm`]: where decoding can start in a WebM stream's middle.
//! - [`media`]: reading slices of recordings from S3, probing, decoding, running ffmpeg.
//! - [`ingest`], [`jobs`], [`window`], [`assemble`]: the work itself.
//! - `consume`: reading a durable consumer one message at a time, for all of them.
//! - [`worker`]: the render consumer (claims, heartbeats, retries);
//!   [`progress`]: progress and heartbeat.

pub mod aac;
pub mod assemble;
pub mod composite;
mod consume;
pub mod graph;
pub mod ingest;
pub mod jobs;
pub mod layout;
pub mod media;
pub mod plan;
pub mod progress;
pub mod speaker;
pub mod wav;
pub mod window;
pub mod windows;
pub mod worker;

pub use consume::Next;
pub use window::{RenderSettings, WindowRenderer};
pub use worker::{Worker, WorkerSettings};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error("{0}")]
    Media(String),
    #[error("local disk: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Storage(#[from] zencast_storage::StorageError),
    #[error(transparent)]
    Command(#[from] zencast_eventlog::CommandError),
    #[error(transparent)]
    Log(#[from] zencast_eventlog::LogError),
    #[error("progress: {0}")]
    Redis(#[from] redis::RedisError),
    /// Taking a window's or a participant's claim (`Jobs::claim`).
    #[error("claiming work: {0}")]
    Claim(#[from] sqlx::Error),
}

impl RenderError {
    /// What the room's log, the host's page and the audit timeline say. A plan
    /// error is about the recording and is said as it is; the rest name the
    /// part that failed and nothing of its insides (commands, file paths,
    /// addresses), which the worker's log has instead.
    pub fn public_reason(&self) -> String {
        match self {
            RenderError::Plan(e) => e.to_string(),
            RenderError::Media(_) => {
                "ffmpeg could not render the media; the render worker's log has the details".into()
            }
            RenderError::Io(_) => "the render worker's local disk failed".into(),
            RenderError::Storage(_) => "the recording store (S3) failed".into(),
            RenderError::Command(_) | RenderError::Log(_) | RenderError::Claim(_) => {
                "the event log (Postgres) failed".into()
            }
            RenderError::Redis(_) => "the progress store (Redis) failed".into(),
        }
    }
}
