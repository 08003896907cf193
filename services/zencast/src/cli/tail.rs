//! `zencast tail [--room ID] [--type T] [--all]`: follow the live event stream,
//! as any ops tool would, through its own ephemeral JetStream consumer.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use futures::StreamExt;
use zencast_events::{Envelope, RoomId};

use crate::backends::Backends;

pub async fn run(
    b: &Backends,
    room: Option<RoomId>,
    event_type: Option<String>,
    from_start: bool,
    json: bool,
) -> anyhow::Result<i32> {
    if let Some(t) = &event_type {
        anyhow::ensure!(
            zencast_events::RecordingEvent::TYPES.contains(&t.as_str()),
            "unknown event type {t}; one of: {}",
            zencast_events::RecordingEvent::TYPES.join(", ")
        );
    }
    let filter = b.subjects.event_filter(room, event_type.as_deref());
    let consumer = b
        .stream
        .create_consumer(pull::Config {
            filter_subject: filter.clone(),
            deliver_policy: if from_start {
                DeliverPolicy::All
            } else {
                DeliverPolicy::New
            },
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await?;
    eprintln!(
        "following {filter} on stream {} (Ctrl-C to stop)",
        b.subjects.stream()
    );
    let mut messages = consumer.messages().await?;
    loop {
        tokio::select! {
            m = messages.next() => {
                let Some(m) = m else { break };
                let m = m?;
                if json {
                    println!("{}", String::from_utf8_lossy(&m.payload));
                    continue;
                }
                match serde_json::from_slice::<Envelope>(&m.payload) {
                    Ok(e) => println!(
                        "{}  {}  #{:<4} {:<27} {}  {}",
                        e.occurred_at.format("%H:%M:%S%.3f"), e.room_id, e.sequence, e.event_type, e.actor, e.payload
                    ),
                    Err(err) => println!("{}  (unreadable: {err})", m.subject),
                }
            }
            _ = crate::run::until_signal() => break,
        }
    }
    Ok(0)
}
