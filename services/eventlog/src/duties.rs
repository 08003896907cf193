//! What Postgres says is due: the scans behind every reconciler. A duty
//! (completing a session after its grace period, rendering a completed room,
//! keeping the Redis projection up to date) is normally set off by a JetStream
//! message; these scans find the ones whose message was lost, late or handled
//! wrongly, so a duty is delayed by a reconciler's period, never forever.
//!
//! They only find candidates: whoever re-drives a duty runs it through the
//! aggregate (or the projector's sequence guard), which makes a duplicate a no-op.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use sqlx::PgPool;
use zencast_events::{Recording, RoomId};

use zencast_runtime::Shutdown;

/// Rooms stopped more than `grace` ago and not completed.
pub async fn overdue_completions(
    pool: &PgPool,
    grace: Duration,
) -> Result<Vec<RoomId>, sqlx::Error> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT aggregate_id, payload->'RecordingStopped'->>'at' AS stopped_at FROM (
             SELECT DISTINCT ON (aggregate_id) aggregate_id, event_type, payload
               FROM events
              WHERE aggregate_type = $1
                AND event_type IN ('RecordingStopped', 'SessionCompleted')
              ORDER BY aggregate_id, sequence DESC) latest
          WHERE event_type = 'RecordingStopped'",
    )
    .bind(Recording::TYPE)
    .fetch_all(pool)
    .await?;
    let due_before = Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    Ok(rows
        .into_iter()
        .filter(|(_, stopped_at)| {
            stopped_at
                .as_deref()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .is_some_and(|at| at <= due_before)
        })
        .filter_map(|(id, _)| RoomId::parse(&id).ok())
        .collect())
}

/// Deleted rooms whose objects are not swept from storage yet.
pub async fn unswept_deletions(pool: &PgPool) -> Result<Vec<RoomId>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM events
          WHERE event_type IN ('RecordingDeleted', 'RecordingSwept')
          GROUP BY aggregate_id
         HAVING bool_and(event_type = 'RecordingDeleted')",
    )
    .fetch_all(pool)
    .await?;
    Ok(ids
        .into_iter()
        .filter_map(|id| RoomId::parse(&id).ok())
        .collect())
}

/// Rooms with a render asked for (`SessionCompleted` or `RenderRequested`)
/// and not finished (no `RenderCompleted` or final `RenderFailed` since), where
/// nothing render-related happened for `quiet`: a render that is running, or
/// waiting out its retry backoff, is left to its worker until then.
pub async fn unfinished_renders(
    pool: &PgPool,
    quiet: Duration,
) -> Result<Vec<RoomId>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM (
             SELECT DISTINCT ON (aggregate_id) aggregate_id, event_type, payload, recorded_at
               FROM events
              WHERE aggregate_type = $1
                AND event_type IN ('SessionCompleted', 'RenderRequested', 'RenderStarted',
                                   'RenderCompleted', 'RenderFailed')
              ORDER BY aggregate_id, sequence DESC) latest
          WHERE event_type <> 'RenderCompleted'
            AND NOT (event_type = 'RenderFailed'
                     AND COALESCE((payload->'RenderFailed'->>'last')::boolean, false))
            AND recorded_at < now() - make_interval(secs => $2)",
    )
    .bind(Recording::TYPE)
    .bind(quiet.as_secs_f64())
    .fetch_all(pool)
    .await?;
    Ok(ids.iter().filter_map(|id| RoomId::parse(id).ok()).collect())
}

/// Rooms with events recorded between `since` ago and `quiet` ago, with the
/// last sequence each has now: what a projection should have applied.
pub async fn recently_active(
    pool: &PgPool,
    since: Duration,
    quiet: Duration,
) -> Result<Vec<(RoomId, u64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT e.aggregate_id, max(e.sequence) AS last FROM events e
          WHERE e.aggregate_type = $1
            AND e.aggregate_id IN (
                SELECT DISTINCT aggregate_id FROM events
                 WHERE recorded_at > now() - make_interval(secs => $2)
                   AND recorded_at < now() - make_interval(secs => $3))
          GROUP BY e.aggregate_id",
    )
    .bind(Recording::TYPE)
    .bind(since.as_secs_f64())
    .bind(quiet.as_secs_f64())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, last)| Some((RoomId::parse(&id).ok()?, last as u64)))
        .collect())
}

/// Runs `pass` at once (start-up) and then every `period` until shutdown. A
/// failed pass is logged and the next one tries again: a reconciler outlives
/// outages of what it reads.
pub async fn every<F, Fut, E>(what: &str, period: Duration, mut shutdown: Shutdown, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: std::fmt::Display,
{
    while !shutdown.is_triggered() {
        tokio::select! {
            result = pass() => match result {
                Ok(0) => {}
                // What a pass found is not yet what it did (the aggregate decides): each
                // pass logs what it changed.
                Ok(n) => tracing::debug!(rooms = n, "{what}: rooms due in Postgres"),
                Err(e) => tracing::warn!(error = %e, "{what}: pass failed; next one in {period:?}"),
            },
            _ = shutdown.wait() => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.wait() => break,
        }
    }
}
