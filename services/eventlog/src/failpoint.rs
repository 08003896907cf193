//! Fail points: named places where a test can make the process die on purpose,
//! to prove that a crash there loses nothing. Armed only through the
//! `ZENCAST_FAILPOINTS` environment variable (comma-separated names); unset in
//! production, where `hit` is a single cached check.

use std::sync::OnceLock;

/// The relay has read unpublished events and is about to publish them.
pub const RELAY_BEFORE_PUBLISH: &str = "relay.before_publish";
/// The relay has JetStream's acks but has not yet marked the rows published.
pub const RELAY_AFTER_PUBLISH: &str = "relay.after_publish";

fn armed() -> &'static [String] {
    static ARMED: OnceLock<Vec<String>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var("ZENCAST_FAILPOINTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    })
}

/// Aborts the process, as a crash would, when `name` is armed.
pub fn hit(name: &str) {
    if armed().iter().any(|a| a == name) {
        eprintln!("zencast: fail point {name} hit, aborting");
        std::process::abort();
    }
}
