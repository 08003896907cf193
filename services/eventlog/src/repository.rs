//! The `Recording` store on our Postgres schema (`migrations/0001`): load a room
//! (its snapshot, then the events after it) and append a command's events
//! (with a snapshot when the append crosses a multiple of the snapshot size),
//! all of an append in one transaction.
//!
//! Written here rather than taken from cqrs-es 0.5's `PersistedEventStore` and
//! postgres-es, for what their sources do: the event store builds snapshots
//! that its repository API cannot label correctly (see [`crate::snapshot`]),
//! postgres-es commits the events before checking that its snapshot update hit
//! the expected row, and its event stream panics on a database error. The
//! aggregate's rules (`Recording::handle`, `apply`) are still cqrs-es's.

use std::collections::HashMap;

use cqrs_es::Aggregate;
use serde_json::Value;
use sqlx::PgPool;
use zencast_events::envelope::upcast;
use zencast_events::{event_id, EnvelopeError, Recording, RecordingEvent, RoomId, SCHEMA_VERSION};

use crate::snapshot::{self, Stored};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another append took one of these sequences first (expected version).
    #[error("another append took the room's next sequence")]
    Conflict,
    #[error("event log unavailable: {0}")]
    Db(sqlx::Error),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // A unique violation on the primary key: another append took this
            // sequence. (The predecessor check cannot fire for us: we append
            // right after the sequence we loaded.)
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => Self::Conflict,
            _ => Self::Db(e),
        }
    }
}

/// A room's state and the last event folded into it.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub state: Recording,
    pub sequence: u64,
}

#[derive(Clone)]
pub struct PgEventRepository {
    pool: PgPool,
}

impl PgEventRepository {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The room's state: its snapshot if it can be trusted, then every event
    /// after it. A snapshot that cannot be trusted is replaced by a correct
    /// one (healing rooms whose snapshot an older version mislabelled).
    pub async fn load(&self, room: RoomId) -> Result<Loaded, StoreError> {
        let start = match snapshot::read(&self.pool, room).await? {
            Stored::Valid { sequence, state } => Some(Loaded { state, sequence }),
            Stored::None => None,
            Stored::Unusable { why } => {
                tracing::warn!(%room, why, "snapshot ignored; replaying the room from its first event");
                let loaded = self.fold(room, Loaded::default()).await?;
                snapshot::write(&self.pool, room, loaded.sequence, &loaded.state).await?;
                return Ok(loaded);
            }
        };
        self.fold(room, start.unwrap_or_default()).await
    }

    /// The room's state from its first event, ignoring any snapshot: the
    /// reference a snapshot is checked against.
    pub async fn replay(&self, room: RoomId) -> Result<Loaded, StoreError> {
        self.fold(room, Loaded::default()).await
    }

    /// Folds the events after `from.sequence` into `from`.
    async fn fold(&self, room: RoomId, mut from: Loaded) -> Result<Loaded, StoreError> {
        let rows = sqlx::query_as::<_, EventRow>(
            "SELECT sequence, event_type, event_version, payload FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
              ORDER BY sequence",
        )
        .bind(Recording::TYPE)
        .bind(room.to_string())
        .bind(from.sequence as i64)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let (sequence, event) = row.event(room)?;
            from.state.apply(event);
            from.sequence = sequence;
        }
        Ok(from)
    }

    /// Appends `events` right after `after` (the expected version), and when
    /// `snapshot` is given, the state after all of them, labelled with the
    /// last one's sequence. All or nothing.
    pub async fn append(
        &self,
        room: RoomId,
        after: u64,
        events: &[RecordingEvent],
        metadata: &HashMap<String, String>,
        snapshot: Option<&Recording>,
    ) -> Result<(), StoreError> {
        let metadata = serde_json::to_value(metadata).expect("a string map serialises");
        let numbered = (after + 1..).zip(events);
        // One event and no snapshot (the common case): a single statement, which
        // is its own transaction, trigger included. Saves two round trips.
        if let ([event], None) = (events, snapshot) {
            return insert_event(&self.pool, room, after + 1, event, &metadata).await;
        }
        let mut tx = self.pool.begin().await?;
        for (sequence, event) in numbered {
            insert_event(&mut *tx, room, sequence, event, &metadata).await?;
        }
        if let Some(state) = snapshot {
            snapshot::write(&mut *tx, room, after + events.len() as u64, state).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A stored event as the queries select it (cqrs-es's layout: the payload
/// tagged with its type). Read by name and type: a column of another type is
/// an error, not a panic.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    /// Selected only by queries over several rooms.
    #[sqlx(default)]
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    /// Selected only where an envelope is made (the aggregate needs none).
    #[sqlx(default)]
    pub metadata: Value,
}

impl EventRow {
    /// The room of a row selected with its `aggregate_id`.
    pub fn room(&self) -> Result<RoomId, zencast_events::IdError> {
        RoomId::parse(&self.aggregate_id)
    }

    /// The envelope of this event of `room` (needs `metadata` selected).
    pub fn envelope(self, room: RoomId) -> Result<zencast_events::Envelope, EnvelopeError> {
        zencast_events::Envelope::from_stored(
            room,
            self.sequence as u64,
            &self.event_type,
            &self.event_version,
            self.payload,
            &metadata_map(&self.metadata),
        )
    }

    /// The event as the aggregate folds it: upcast to the current schema.
    fn event(self, room: RoomId) -> Result<(u64, RecordingEvent), EnvelopeError> {
        let sequence = self.sequence as u64;
        let tagged = upcast(
            room,
            sequence,
            &self.event_type,
            &self.event_version,
            self.payload,
        )?;
        let event = serde_json::from_value(tagged).map_err(|source| EnvelopeError::BadPayload {
            room,
            sequence,
            event_type: self.event_type,
            source,
        })?;
        Ok((sequence, event))
    }
}

/// Appends one event (cqrs-es's layout: the payload tagged with its type). The
/// outbox row is written by the `events_outbox` trigger, in the same transaction.
async fn insert_event<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    room: RoomId,
    sequence: u64,
    event: &RecordingEvent,
    metadata: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                             event_version, payload, metadata, event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Recording::TYPE)
    .bind(room.to_string())
    .bind(sequence as i64)
    .bind(event.type_name())
    .bind(SCHEMA_VERSION)
    .bind(serde_json::to_value(event).expect("events always serialise"))
    .bind(metadata)
    .bind(event_id(room, sequence))
    .execute(executor)
    .await?;
    Ok(())
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
