//! The render consumer: turns a completed session's chunks into the files a
//! podcaster publishes: `processed/{roomId}/final.mp4` (composed with the
//! room's layout, audio mixed and loudness-normalised to −16 LUFS) and, per
//! participant, an aligned WAV and MP4 under `processed/{roomId}/tracks/`.
//!
//! # Layout
//! - [`plan`]: from the room's events to pieces of chunks on the timeline; gaps.
//! - [`layout`]: layouts as data (a canvas and placements over time).
//! - [`speaker`]: who speaks when, from audio levels, with hysteresis.
//! - [`graph`]: the ffmpeg command lines (audio pass, compose pass).
//! - [`media`]: reassembly from S3, remux, probe, running ffmpeg, WAV levels.
//! - [`render`]: one render, end to end. [`worker`]: the JetStream consumer,
//!   claims, heartbeats, retries. [`progress`]: progress and heartbeat.
//! - [`windows`]: the time-window model for rendering while recording.

pub mod graph;
pub mod layout;
pub mod media;
pub mod plan;
pub mod progress;
pub mod render;
pub mod speaker;
pub mod windows;
pub mod worker;

pub use render::{RenderSettings, Renderer};
pub use worker::{Next, Worker, WorkerSettings};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error("{0}")]
    Media(String),
    #[error("local disk: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Storage(#[from] zencast_api::storage::StorageError),
    #[error(transparent)]
    Command(#[from] zencast_nats::CommandError),
    #[error(transparent)]
    Log(#[from] zencast_nats::LogError),
    #[error("progress: {0}")]
    Redis(#[from] redis::RedisError),
}
