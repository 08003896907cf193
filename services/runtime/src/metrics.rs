//! Process-wide counters, exposed by the api at `/metrics` in Prometheus
//! text form, by `prometheus-client` (the Prometheus project's Rust client).
//! Each `Metrics` has its own registry, not a global one: tests run several
//! processes' worth of services in one binary and count each apart.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug)]
pub struct Metrics {
    pub events_appended: Counter,
    pub commands_rejected: Counter,
    pub append_conflicts: Counter,
    pub events_published: Counter,
    pub publish_failures: Counter,
    pub events_projected: Counter,
    pub projection_gaps_filled: Counter,
    /// Messages JetStream stopped delivering after their consumer's
    /// `max_deliver`, by consumer.
    pub messages_set_aside: Family<Vec<(String, String)>, Counter>,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        // Counters share their value with the registry's copy.
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let events_appended = counter(
            "zencast_events_appended",
            "Events appended to the Postgres log by this process",
        );
        let commands_rejected = counter(
            "zencast_commands_rejected",
            "Commands refused by a rule of the recording",
        );
        let append_conflicts = counter(
            "zencast_append_conflicts",
            "Appends that lost an expected-version race and were retried",
        );
        let events_published = counter(
            "zencast_events_published",
            "Events published to JetStream by this process's outbox relay",
        );
        let publish_failures = counter(
            "zencast_publish_failures",
            "JetStream publishes that failed and will be retried",
        );
        let events_projected = counter(
            "zencast_events_projected",
            "Events applied to the Redis room projection by this process",
        );
        let projection_gaps_filled = counter(
            "zencast_projection_gaps_filled",
            "Events the projector read from Postgres to fill a gap",
        );
        let messages_set_aside = Family::<Vec<(String, String)>, Counter>::default();
        registry.register(
            "zencast_messages_set_aside",
            "Messages JetStream set aside after their last delivery (reconcilers re-drive their duties)",
            messages_set_aside.clone(),
        );
        Self {
            events_appended,
            commands_rejected,
            append_conflicts,
            events_published,
            publish_failures,
            events_projected,
            projection_gaps_filled,
            messages_set_aside,
            registry,
        }
    }
}

/// Gauges read at the moment of a scrape (the relay's lag, from Postgres):
/// counts and ages, alone or one per value of a label (e.g. per room).
#[derive(Default)]
pub struct Readings(Registry);

type Seconds = Gauge<f64, AtomicU64>;
type Labelled<G> = Family<Vec<(String, String)>, G>;

impl Readings {
    pub fn count(&mut self, name: &str, help: &str, value: i64) {
        let g = Gauge::<i64>::default();
        g.set(value);
        self.0.register(name, help, g);
    }

    pub fn seconds(&mut self, name: &str, help: &str, value: f64) {
        let g = Seconds::default();
        g.set(value);
        self.0.register(name, help, g);
    }

    pub fn counts_by(&mut self, name: &str, help: &str, label: &str, values: &[(String, i64)]) {
        let family = Labelled::<Gauge<i64>>::default();
        for (key, value) in values {
            family.get_or_create(&labels(label, key)).set(*value);
        }
        self.0.register(name, help, family);
    }

    pub fn seconds_by(&mut self, name: &str, help: &str, label: &str, values: &[(String, f64)]) {
        let family = Labelled::<Seconds>::default();
        for (key, value) in values {
            family.get_or_create(&labels(label, key)).set(*value);
        }
        self.0.register(name, help, family);
    }
}

fn labels(label: &str, value: &str) -> Vec<(String, String)> {
    vec![(label.to_string(), value.to_string())]
}

impl Metrics {
    /// The counters, then `readings`, in Prometheus text exposition format.
    pub fn render(&self, readings: &Readings) -> String {
        let mut out = String::new();
        for registry in [&self.registry, &readings.0] {
            prometheus_text::encode(&mut out, registry).expect("writing to a String");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_readings_are_prometheus_text() {
        let metrics = Metrics::default();
        metrics.events_appended.inc_by(3);
        let mut readings = Readings::default();
        readings.count("zencast_relay_lag_events", "Pending", 7);
        readings.seconds_by(
            "zencast_relay_room_lag_seconds",
            "Age",
            "room",
            &[("r1".into(), 1.5)],
        );
        let text = metrics.render(&readings);
        assert!(
            text.contains("# TYPE zencast_events_appended_total counter"),
            "{text}"
        );
        assert!(
            text.contains("\nzencast_events_appended_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("\nzencast_commands_rejected_total 0\n"),
            "{text}"
        );
        assert!(text.contains("\nzencast_relay_lag_events 7\n"), "{text}");
        assert!(
            text.contains("zencast_relay_room_lag_seconds{room=\"r1\"} 1.5\n"),
            "{text}"
        );
    }
}
