//! How Zencast events are kept and how they travel: the Postgres event log (the
//! record), its outbox, and NATS JetStream (the transport).
//!
//! # Layout
//! - [`db`]: connect to Postgres, create the database if missing, migrate.
//! - [`repository`]: load a room (snapshot + events after it) and append a
//!   command's events, on our schema.
//! - [`snapshot`]: aggregate snapshots, labelled with exactly the state they hold.
//! - [`log`]: `EventLog::execute` (command → events appended with the expected
//!   version) and reads of a room's events.
//! - [`duties`]: what Postgres says is due (the reconcilers' scans).
//! - [`outbox`]: the relay from the outbox table to JetStream, at least once,
//!   per-room ordered, de-duplicated by `Nats-Msg-Id`.
//! - [`republish`]: the log sent to the stream again (`zencast republish`).
//! - [`stream`]: the `ZENCAST_EVENTS` stream and its durable consumers.
//! - [`subjects`]: every subject and stream name, from one prefix.
//! - [`metrics`], [`shutdown`], [`failpoint`]: plumbing shared by every service.

pub mod db;
pub mod duties;
pub mod failpoint;
pub mod log;
pub mod metrics;
pub mod outbox;
pub mod repository;
pub mod republish;
pub mod shutdown;
pub mod snapshot;
pub mod stream;
pub mod subjects;

pub use log::{CommandError, EventLog, LogError, Origin};
pub use metrics::Metrics;
pub use shutdown::{shutdown_pair, supervise, Shutdown, ShutdownTrigger};
pub use subjects::Subjects;
