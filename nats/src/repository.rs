//! A cqrs-es event repository on our Postgres schema (`migrations/0001`).
//!
//! Written here rather than taken from postgres-es 0.5 for two reasons found in
//! its source: its snapshot update commits the transaction before checking that
//! the expected snapshot row was hit (so a lost race still commits the events and
//! then reports a conflict), and its event stream panics on a database error.
//! Here every append, snapshot included, commits only if all of it holds.

use std::collections::HashMap;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use zencast_events::envelope::upcast;
use zencast_events::{event_id, RoomId, SCHEMA_VERSION};

#[derive(Clone)]
pub struct PgEventRepository {
    pool: PgPool,
}

impl PgEventRepository {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

const SELECT_EVENTS: &str = "
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
 ORDER BY sequence";

fn unknown(e: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(e))
}

fn from_sqlx(e: sqlx::Error) -> PersistenceError {
    match &e {
        // A unique violation on the primary key: another append took this sequence.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            PersistenceError::OptimisticLockError
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            PersistenceError::ConnectionError(Box::new(e))
        }
        _ => unknown(e),
    }
}

/// A stored row as cqrs-es reads it, upcast to the current schema so the
/// aggregate only ever folds current payloads.
fn row_to_event(row: &PgRow) -> Result<SerializedEvent, PersistenceError> {
    let id: String = row.get("aggregate_id");
    let sequence = row.get::<i64, _>("sequence");
    let event_type: String = row.get("event_type");
    let version: String = row.get("event_version");
    let room = RoomId::parse(&id).map_err(unknown)?;
    let payload = upcast(
        room,
        sequence as u64,
        &event_type,
        &version,
        row.get("payload"),
    )
    .map_err(unknown)?;
    Ok(SerializedEvent::new(
        id,
        sequence as usize,
        row.get("aggregate_type"),
        event_type,
        SCHEMA_VERSION.to_string(),
        payload,
        row.get("metadata"),
    ))
}

impl PgEventRepository {
    async fn select<A: Aggregate>(
        &self,
        aggregate_id: &str,
        after: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let rows = sqlx::query(SELECT_EVENTS)
            .bind(A::TYPE)
            .bind(aggregate_id)
            .bind(after as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
        rows.iter().map(row_to_event).collect()
    }
}

impl PersistedEventRepository for PgEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select::<A>(aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select::<A>(aggregate_id, last_sequence).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let row = sqlx::query(
            "SELECT last_sequence, current_snapshot, payload FROM snapshots
              WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        Ok(row.map(|row| SerializedSnapshot {
            aggregate_id: aggregate_id.to_string(),
            aggregate: row.get("payload"),
            current_sequence: row.get::<i64, _>("last_sequence") as usize,
            current_snapshot: row.get::<i64, _>("current_snapshot") as usize,
        }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if events.is_empty() && snapshot_update.is_none() {
            return Ok(());
        }
        // One event and no snapshot (the common case): a single statement, which
        // is its own transaction, trigger included. Saves two round trips.
        if let ([event], None) = (events, &snapshot_update) {
            insert_event::<A, _>(&self.pool, event).await?;
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        for event in events {
            insert_event::<A, _>(&mut *tx, event).await?;
        }
        if let Some((aggregate_id, payload, snapshot)) = snapshot_update {
            let last_sequence = events.last().map_or(0, |e| e.sequence) as i64;
            // Insert the first snapshot, or move the one we loaded forward; if
            // someone else moved it meanwhile, nothing matches and we roll back.
            let hit = sqlx::query(
                "INSERT INTO snapshots AS s (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                    SET last_sequence = EXCLUDED.last_sequence,
                        current_snapshot = EXCLUDED.current_snapshot,
                        payload = EXCLUDED.payload
                  WHERE s.current_snapshot = EXCLUDED.current_snapshot - 1",
            )
            .bind(A::TYPE)
            .bind(&aggregate_id)
            .bind(last_sequence)
            .bind(snapshot as i64)
            .bind(&payload)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?
            .rows_affected();
            if hit != 1 {
                tx.rollback().await.map_err(from_sqlx)?;
                return Err(PersistenceError::OptimisticLockError);
            }
        }
        tx.commit().await.map_err(from_sqlx)
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        Ok(replay_stream(events))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let rows = sqlx::query(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
               FROM events WHERE aggregate_type = $1 ORDER BY aggregate_id, sequence",
        )
        .bind(A::TYPE)
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        Ok(replay_stream(
            rows.iter().map(row_to_event).collect::<Result<_, _>>()?,
        ))
    }
}

/// Appends one event. The outbox row is written by the `events_outbox` trigger,
/// in the same transaction.
async fn insert_event<'e, A: Aggregate, E: sqlx::PgExecutor<'e>>(
    executor: E,
    event: &SerializedEvent,
) -> Result<(), PersistenceError> {
    let room = RoomId::parse(&event.aggregate_id).map_err(unknown)?;
    let metadata = if event.metadata.is_null() {
        Value::Object(Default::default())
    } else {
        event.metadata.clone()
    };
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                             event_version, payload, metadata, event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(A::TYPE)
    .bind(&event.aggregate_id)
    .bind(event.sequence as i64)
    .bind(&event.event_type)
    .bind(&event.event_version)
    .bind(&event.payload)
    .bind(&metadata)
    .bind(event_id(room, event.sequence as u64))
    .execute(executor)
    .await
    .map_err(from_sqlx)?;
    Ok(())
}

fn replay_stream(events: Vec<SerializedEvent>) -> ReplayStream {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    tokio::spawn(async move {
        for event in events {
            if feed.push(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    stream
}

/// The envelope of a stored event row (columns `sequence`, `event_type`,
/// `event_version`, `payload`, `metadata`) of `room`.
pub fn envelope_from_row(
    room: RoomId,
    row: &PgRow,
) -> Result<zencast_events::Envelope, zencast_events::EnvelopeError> {
    zencast_events::Envelope::from_stored(
        room,
        row.get::<i64, _>("sequence") as u64,
        row.get::<&str, _>("event_type"),
        row.get::<&str, _>("event_version"),
        row.get("payload"),
        &metadata_map(&row.get("metadata")),
    )
}

/// Metadata as stored: a JSON object of strings.
pub fn metadata_map(value: &Value) -> HashMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}
