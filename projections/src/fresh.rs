//! Reads that must see the log as it is now. The projector applies events as
//! JetStream delivers them, so Redis can lag the log: by milliseconds right
//! after a command, by longer if a message was lost or Redis lost its data.
//! A reader that needs the truth first brings the room up to the log's last
//! sequence from Postgres, through the same sequence guard as the projector
//! (so both can apply at once without harm), then reads Redis.

use sqlx::PgPool;
use zencast_eventlog::log::{last_sequence, room_events};
use zencast_events::{Envelope, RoomId};

use crate::room_state::{Outcome, RoomState};
use zencast_events::protocol::RoomView;

use crate::view::read_room;
use crate::ProjectionError;

/// Applies the room's logged events after its last applied one; returns the
/// ones this call applied.
pub async fn catch_up(
    pool: &PgPool,
    state: &RoomState,
    room: RoomId,
) -> Result<Vec<Envelope>, ProjectionError> {
    let from = state.last_sequence(room).await?;
    let mut applied = Vec::new();
    for e in room_events(pool, room, from, None).await? {
        if state.apply(&e).await? == Outcome::Applied {
            applied.push(e);
        }
    }
    Ok(applied)
}

/// The room's view with every event the log holds now applied (`None` for a
/// room with no events): what a read right after a command must see.
pub async fn read_fresh(
    pool: &PgPool,
    state: &RoomState,
    room: RoomId,
) -> Result<Option<RoomView>, ProjectionError> {
    let last = last_sequence(pool, room).await?;
    if last == 0 {
        return Ok(None);
    }
    if state.last_sequence(room).await? < last {
        catch_up(pool, state, room).await?;
    }
    read_room(&state.redis(), state.prefix(), room).await
}
