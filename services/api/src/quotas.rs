//! Per-host quotas an operator sets (`ZENCAST_QUOTA_*`): rooms a host keeps,
//! bytes its rooms store, and how long one session may record. Each refusal
//! says which limit and its value; none needs the request's body.

use std::time::Duration;

use chrono::{DateTime, Utc};
use zencast_eventlog::hosts;
use zencast_events::{HostId, Recording};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Default)]
pub struct Quotas {
    /// Rooms one host keeps (deleted ones do not count).
    pub rooms: Option<u32>,
    /// Chunk bytes stored over one host's rooms that are not deleted.
    pub stored_bytes: Option<u64>,
    /// How long one session may record, from `RecordingStarted` (every room).
    pub session_length: Option<Duration>,
}

/// Before a new room of `host`.
pub async fn check_new_room(app: &AppState, host: HostId) -> Result<(), ApiError> {
    let Some(max) = app.settings.quotas.rooms else {
        return Ok(());
    };
    let rooms = hosts::rooms_of(&app.pool, host).await?.len();
    if rooms >= max as usize {
        return Err(ApiError::Denied(
            "quota_rooms",
            format!("this account keeps at most {max} recordings: delete one to make room"),
        ));
    }
    Ok(())
}

/// Before a new chunk of `room` is read.
pub async fn check_new_chunk(app: &AppState, room: &Recording) -> Result<(), ApiError> {
    let quotas = &app.settings.quotas;
    if let (Some(limit), Some(started)) = (quotas.session_length, room.started_at) {
        if session_over(started, Utc::now(), limit) {
            return Err(ApiError::Denied(
                "quota_session_length",
                format!(
                    "a session records at most {} minutes on this studio; stop the recording",
                    limit.as_secs() / 60
                ),
            ));
        }
    }
    let owner = room.room.as_ref().and_then(|r| r.owner);
    if let (Some(max), Some(owner)) = (quotas.stored_bytes, owner) {
        let used = hosts::stored_bytes(&app.pool, owner).await?;
        if used >= max {
            return Err(ApiError::Denied(
                "quota_storage",
                format!(
                    "this account's recordings fill its {} MB of storage: delete one to record more",
                    max / 1_000_000
                ),
            ));
        }
    }
    Ok(())
}

/// A chunk recorded just before the limit may arrive a little after it.
const CHUNK_IN_FLIGHT: chrono::Duration = chrono::Duration::seconds(90);

/// Whether a chunk arriving at `now` is past a session limit of `limit`.
fn session_over(started: DateTime<Utc>, now: DateTime<Utc>, limit: Duration) -> bool {
    let limit = chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX);
    now - started > limit + CHUNK_IN_FLIGHT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_may_record_its_limit_and_a_chunk_in_flight_after_it() {
        let start = Utc::now();
        let hour = Duration::from_secs(3600);
        let at = |s: i64| start + chrono::Duration::seconds(s);
        assert!(!session_over(start, at(3600), hour));
        assert!(!session_over(start, at(3600 + 90), hour));
        assert!(session_over(start, at(3600 + 91), hour));
    }
}
