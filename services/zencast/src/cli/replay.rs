//! `zencast replay [--room ID] [--verify]`: rebuild the Redis room state and
//! the aggregate snapshots from the Postgres log, or compare them with it.

use zencast_events::RoomId;
use zencast_projections::replay::{rebuild_room, select_rooms, verify_room};

use zencast_eventlog::EventLog;

use crate::backends::Backends;

/// Returns the process exit code: 0, or 1 when `--verify` found a difference
/// or a projection behind its log for longer than `max_lag` (lag that old is
/// not a projector catching up but one that is stuck or lost a message).
pub async fn run(
    b: &Backends,
    room: Option<RoomId>,
    verify: bool,
    max_lag: std::time::Duration,
) -> anyhow::Result<i32> {
    let rooms = select_rooms(&b.pool, room).await?;
    let prefix = b.subjects.prefix();
    let log = EventLog::new(b.pool.clone(), b.metrics.clone());
    if !verify {
        let mut total = 0;
        for r in &rooms {
            let n = rebuild_room(&b.pool, &b.redis, prefix, *r).await?;
            total += n;
            match log.rebuild_snapshot(*r).await? {
                Some(at) => println!("room {r}: rebuilt from {n} events; snapshot at {at}"),
                None => println!("room {r}: rebuilt from {n} events"),
            }
        }
        println!("replayed {total} events into {} rooms", rooms.len());
        return Ok(0);
    }
    let mut differing = 0;
    let mut stuck = 0;
    for r in &rooms {
        let check = verify_room(&b.pool, &b.redis, prefix, *r).await?;
        if let Some(since) = check.behind_since {
            let age = (chrono::Utc::now() - since).to_std().unwrap_or_default();
            if age > max_lag {
                stuck += 1;
                println!(
                    "room {r}: BEHIND its log by {} events, the oldest {} ms old (bound {} ms)",
                    check.behind,
                    age.as_millis(),
                    max_lag.as_millis()
                );
            } else {
                println!(
                    "room {r}: projection is {} events behind the log, within the lag bound",
                    check.behind
                );
            }
        }
        let snapshot_ok = log.snapshot_agrees(*r).await?;
        if !snapshot_ok {
            println!(
                "room {r}: SNAPSHOT disagrees with the log (`zencast replay --room {r}` rewrites it)"
            );
        }
        for d in &check.differences {
            println!("room {r}: DIFFERENT {d}");
        }
        if snapshot_ok && check.differences.is_empty() {
            println!("room {r}: ok");
        } else {
            differing += 1;
        }
    }
    println!(
        "verified {} rooms: {differing} differ, {stuck} behind beyond the bound",
        rooms.len()
    );
    Ok(if differing + stuck > 0 { 1 } else { 0 })
}
