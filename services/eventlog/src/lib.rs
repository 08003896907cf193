//! The record of every room: the Postgres event log, and how it reaches
//! NATS. Postgres decides (an append with the expected version is the only
//! way an event exists); JetStream carries what was appended.
//!
//! # Layout
//! - [`db`]: connect to Postgres, create the database if missing, migrate.
//! - [`repository`]: load a room (snapshot + events after it) and append a
//!   command's events, on our schema.
//! - [`snapshot`]: aggregate snapshots, labelled with exactly the state they hold.
//! - [`log`]: `EventLog::execute` (command → events appended with the expected
//!   version) and reads of a room's events.
//! - [`hosts`]: host accounts (a second aggregate type in the same log), the
//!   rooms each created, and the relay of account events.
//! - [`duties`]: what Postgres says is due (the reconcilers' scans).
//! - [`outbox`]: the relay from the outbox table to JetStream, at least once,
//!   per-room ordered, de-duplicated by `Nats-Msg-Id`.
//! - [`republish`]: the log sent to the stream again (`zencast republish`).
//! - [`failpoint`]: crash points in the relay, armed by the fault tests.

pub mod db;
pub mod duties;
pub mod failpoint;
pub mod hosts;
pub mod log;
pub mod outbox;
pub mod repository;
pub mod republish;
pub mod snapshot;

pub use log::{CommandError, EventLog, LogError, Origin};
