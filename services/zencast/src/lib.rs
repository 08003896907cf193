//! The `zencast` binary's library: configuration, connections, and starting the
//! services in any combination (`up` runs them all in one process).
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`backends`]: Postgres, Redis, NATS/JetStream connections.
//! - [`embedded_s3`]: the single-machine S3-compatible store (s3s-fs).
//! - [`run`]: start api, relay and projector as tasks; stop them gracefully.
//! - [`cli`]: `replay`, `audit`, `tail`, `bench`.

pub mod backends;
pub mod cli;
pub mod config;
pub mod embedded_s3;
pub mod run;
pub mod serve;

pub use backends::Backends;
pub use config::Config;
pub use run::{start, Parts, Running};
