//! `zencast audit ROOM [--json]`: the room's event timeline, from Postgres.

use zencast_eventlog::log::room_events;
use zencast_events::RoomId;

use crate::backends::Backends;

pub async fn run(b: &Backends, room: RoomId, json: bool) -> anyhow::Result<i32> {
    let events = room_events(&b.pool, room, 0, None).await?;
    if events.is_empty() {
        eprintln!("room {room} has no events");
        return Ok(2);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(0);
    }
    println!("room {room}: {} events", events.len());
    for e in &events {
        println!(
            "{:>5}  {}  {:<27} {:<36}  {}",
            e.sequence,
            e.occurred_at.format("%Y-%m-%d %H:%M:%S%.3f"),
            e.event_type,
            e.actor,
            e.payload
        );
    }
    Ok(0)
}
