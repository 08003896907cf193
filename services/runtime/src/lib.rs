//! What every Zencast process shares, whatever part of the system it runs:
//! a shutdown signal its loops watch, a supervisor that restarts a loop
//! after an error, and the counters the api exposes at `/metrics`.
//!
//! # Layout
//! - [`shutdown`]: `shutdown_pair`, `Shutdown`, `supervise`.
//! - [`metrics`]: process-wide counters in Prometheus text form.

pub mod metrics;
pub mod shutdown;

pub use metrics::Metrics;
pub use shutdown::{shutdown_pair, supervise, Shutdown, ShutdownTrigger};
