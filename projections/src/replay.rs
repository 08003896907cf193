//! Rebuild by replay: the Redis room state recomputed from the Postgres log,
//! written back, or compared with what is live.

use redis::aio::ConnectionManager;
use sqlx::PgPool;
use zencast_eventlog::log::{room_events, rooms};
use zencast_events::RoomId;

use crate::model::{Difference, RoomModel};
use crate::room_state::RoomState;
use crate::ProjectionError;

/// What `verify` found for one room.
#[derive(Debug)]
pub struct RoomCheck {
    pub room: RoomId,
    /// Events in the log that the live state has not applied yet (projector lag).
    pub behind: u64,
    /// When the oldest of those happened: how long the projection has been behind.
    pub behind_since: Option<chrono::DateTime<chrono::Utc>>,
    pub differences: Vec<Difference>,
}

/// The rooms to work on: one, or every room in the log.
pub async fn select_rooms(
    pool: &PgPool,
    room: Option<RoomId>,
) -> Result<Vec<RoomId>, ProjectionError> {
    Ok(match room {
        Some(r) => vec![r],
        None => rooms(pool).await?,
    })
}

/// Rebuilds the room's Redis state from the log; returns the events replayed.
pub async fn rebuild_room(
    pool: &PgPool,
    redis: &ConnectionManager,
    prefix: &str,
    room: RoomId,
) -> Result<usize, ProjectionError> {
    let events = room_events(pool, room, 0, None).await?;
    if events.is_empty() {
        return Err(ProjectionError::UnknownRoom(room));
    }
    let model = RoomModel::rebuild(prefix, room, &events)?;
    install(pool, redis, prefix, room, &model).await?;
    Ok(events.len())
}

/// Writes a rebuilt room, then applies what the log gained since the rebuild
/// read it. The live projector may apply an event between that read and the
/// write, which the write then overwrites; the catch-up applies it again (its
/// sequence is past the rebuilt one), so a rebuild cannot lose an event to a
/// race with the projector, and the projector's own applies stay guarded.
pub async fn install(
    pool: &PgPool,
    redis: &ConnectionManager,
    prefix: &str,
    room: RoomId,
    model: &RoomModel,
) -> Result<(), ProjectionError> {
    model.write(redis, prefix, room).await?;
    crate::fresh::catch_up(pool, &RoomState::new(redis.clone(), prefix), room).await?;
    Ok(())
}

/// Compares the live state with the state rebuilt from the log up to the
/// sequence the live state says it has applied; events beyond it are lag, not
/// a difference, and are reported as `behind`.
pub async fn verify_room(
    pool: &PgPool,
    redis: &ConnectionManager,
    prefix: &str,
    room: RoomId,
) -> Result<RoomCheck, ProjectionError> {
    let live = RoomModel::read_live(redis, prefix, room).await?;
    let events = room_events(pool, room, 0, None).await?;
    if events.is_empty() {
        return Err(ProjectionError::UnknownRoom(room));
    }
    let live_seq = live.last_sequence(prefix, room);
    let upto = events
        .iter()
        .take_while(|e| e.sequence <= live_seq.max(1))
        .count()
        .max(1);
    let rebuilt = RoomModel::rebuild(prefix, room, &events[..upto])?;
    Ok(RoomCheck {
        room,
        behind: (events.len() - upto) as u64,
        behind_since: events.get(upto).map(|e| e.occurred_at),
        differences: live.diff(&rebuilt),
    })
}
