//! Process-wide counters, exposed by the api at `/metrics` in Prometheus text form.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub events_appended: AtomicU64,
    pub commands_rejected: AtomicU64,
    pub append_conflicts: AtomicU64,
    pub events_published: AtomicU64,
    pub publish_failures: AtomicU64,
    pub events_projected: AtomicU64,
    pub projection_gaps_filled: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters in Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, c) in [
            (
                "zencast_events_appended_total",
                "Events appended to the Postgres log by this process.",
                &self.events_appended,
            ),
            (
                "zencast_commands_rejected_total",
                "Commands refused by a rule of the recording.",
                &self.commands_rejected,
            ),
            (
                "zencast_append_conflicts_total",
                "Appends that lost an expected-version race and were retried.",
                &self.append_conflicts,
            ),
            (
                "zencast_events_published_total",
                "Events published to JetStream by this process's outbox relay.",
                &self.events_published,
            ),
            (
                "zencast_publish_failures_total",
                "JetStream publishes that failed and will be retried.",
                &self.publish_failures,
            ),
            (
                "zencast_events_projected_total",
                "Events applied to the Redis room projection by this process.",
                &self.events_projected,
            ),
            (
                "zencast_projection_gaps_filled_total",
                "Events the projector read from Postgres to fill a gap.",
                &self.projection_gaps_filled,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        out
    }
}
