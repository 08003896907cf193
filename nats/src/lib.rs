//! What is about NATS: the `ZENCAST_EVENTS` JetStream stream, its durable
//! consumers, and every subject name. The event log that feeds the stream
//! lives in `zencast-eventlog` (services/eventlog).
//!
//! # Layout
//! - [`stream`]: the `ZENCAST_EVENTS` stream and its durable consumers.
//! - [`subjects`]: every subject and stream name, from one prefix.
//! - [`set_aside`]: the messages JetStream stopped delivering (`max_deliver`).
//! - [`servers`]: connecting to one server or to a cluster's seed list.

pub mod servers;
pub mod set_aside;
pub mod stream;
pub mod subjects;

pub use subjects::Subjects;
