//! Deleting a recording's objects: after `RecordingDeleted`, every object
//! under the room's keys (chunks, windows, renders) is removed from the store,
//! then `RecordingSwept` records it. Started at once by the delete request,
//! and re-driven from Postgres at start-up and periodically, so a crash
//! between the two leaves nothing behind for long.

use std::sync::Arc;
use std::time::Duration;

use zencast_eventlog::{duties, EventLog, Origin};
use zencast_events::{RecordingCommand, RoomId, SYSTEM_ACTOR};
use zencast_runtime::Shutdown;
use zencast_storage::ChunkStore;

/// Every key prefix a room's objects live under.
pub fn prefixes(room: RoomId) -> [String; 2] {
    [format!("{room}/"), format!("processed/{room}/")]
}

/// Removes the room's objects and records the sweep; returns how many.
pub async fn sweep_room(log: &EventLog, store: &ChunkStore, room: RoomId) -> Result<u64, String> {
    let mut objects = 0;
    for prefix in prefixes(room) {
        objects += store
            .delete_prefix(&prefix)
            .await
            .map_err(|e| e.to_string())?;
    }
    log.execute(
        room,
        RecordingCommand::RecordSweep { objects },
        &Origin::now(SYSTEM_ACTOR),
    )
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!(%room, objects, "deleted recording swept from storage");
    Ok(objects)
}

/// Sweeps, every `period` (and at once), the deleted rooms not swept yet.
pub async fn reconcile(
    log: Arc<EventLog>,
    store: ChunkStore,
    period: Duration,
    shutdown: Shutdown,
) {
    duties::every("storage sweeper", period, shutdown, || async {
        let due = duties::unswept_deletions(log.pool()).await?;
        for room in &due {
            if let Err(e) = sweep_room(&log, &store, *room).await {
                tracing::warn!(%room, error = %e, "could not sweep a deleted recording; will retry");
            }
        }
        Ok::<_, sqlx::Error>(due.len())
    })
    .await
}
