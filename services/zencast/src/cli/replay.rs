//! `zencast replay [--room ID] [--verify]`: rebuild the Redis room state from the
//! Postgres log, or compare it with the live state.

use zencast_events::RoomId;
use zencast_projections::replay::{rebuild_room, select_rooms, verify_room};

use crate::backends::Backends;

/// Returns the process exit code: 0, or 1 when `--verify` found a difference.
pub async fn run(b: &Backends, room: Option<RoomId>, verify: bool) -> anyhow::Result<i32> {
    let rooms = select_rooms(&b.pool, room).await?;
    let prefix = b.subjects.prefix();
    if !verify {
        let mut total = 0;
        for r in &rooms {
            let n = rebuild_room(&b.pool, &b.redis, prefix, *r).await?;
            total += n;
            println!("room {r}: rebuilt from {n} events");
        }
        println!("replayed {total} events into {} rooms", rooms.len());
        return Ok(0);
    }
    let mut differing = 0;
    for r in &rooms {
        let check = verify_room(&b.pool, &b.redis, prefix, *r).await?;
        if check.behind > 0 {
            println!(
                "room {r}: projection is {} events behind the log (lag, not a difference)",
                check.behind
            );
        }
        if check.differences.is_empty() {
            println!("room {r}: ok");
        } else {
            differing += 1;
            for d in &check.differences {
                println!("room {r}: DIFFERENT {d}");
            }
        }
    }
    println!("verified {} rooms: {} differ", rooms.len(), differing);
    Ok(if differing > 0 { 1 } else { 0 })
}
