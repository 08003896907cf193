//! `zencast republish --room ID | --since TIME`: send the log to the stream
//! again, with the same `Nats-Msg-Id`s (see `zencast_eventlog::republish` for when).

use zencast_eventlog::republish::{republish, Selection};

use crate::backends::Backends;

pub async fn run(b: &Backends, selection: Selection) -> anyhow::Result<i32> {
    let done = republish(&b.pool, &b.js, &b.subjects, selection).await?;
    println!(
        "republished {} events to {}: {} already there (dropped as duplicates), {} stored again",
        done.sent,
        b.subjects.stream(),
        done.duplicates,
        done.sent - done.duplicates
    );
    Ok(0)
}
