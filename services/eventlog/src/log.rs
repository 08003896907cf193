//! The event log: commands in, events appended to Postgres with the expected
//! version, and reads of a room's events (for the audit, the projector's gap
//! filling and replay).
//!
//! Appends are serialised per room twice over: within one process by a per-room
//! lock (so concurrent commands queue instead of colliding), and across processes
//! by the primary key on (room, sequence), whose violation is an expected-version
//! conflict that makes the command reload and run again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use sqlx::PgPool;
use tokio::sync::Notify;
use zencast_events::envelope::{META_ACTOR, META_OCCURRED_AT};
use zencast_events::{
    Envelope, EnvelopeError, ParticipantId, Recording, RecordingCommand, RecordingError, RoomId,
};

use crate::repository::{EventRow, Loaded, PgEventRepository, StoreError};
use crate::snapshot;
use zencast_runtime::Metrics;

/// Attempts of a command that keeps losing expected-version races.
const MAX_ATTEMPTS: u32 = 12;
/// Rooms whose latest state this process keeps in memory.
const CACHED_ROOMS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] RecordingError),
    #[error("the room changed concurrently too many times; try again")]
    Conflict,
    #[error("event log unavailable: {0}")]
    Storage(String),
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Conflict,
            other => Self::Storage(other.to_string()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("event log unavailable: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("stored room id `{0}` is not a UUID")]
    BadRoomId(String),
}

/// Who asked, and when: stored with each event.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: String,
    pub at: DateTime<Utc>,
}

impl Origin {
    pub fn now(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            at: Utc::now(),
        }
    }
}

pub struct EventLog {
    pool: PgPool,
    repo: PgEventRepository,
    locks: Mutex<HashMap<RoomId, Arc<tokio::sync::Mutex<()>>>>,
    /// The state after this process's last append to a room. Used instead of a
    /// reload; if another process appended meanwhile, the append conflicts on
    /// the expected version and the room is reloaded, so the cache cannot make
    /// a decision on stale state stick. Bounded (S3-FIFO): a room that falls
    /// out is reloaded from its snapshot.
    cache: quick_cache::sync::Cache<RoomId, Loaded>,
    appended: Arc<Notify>,
    metrics: Arc<Metrics>,
}

impl EventLog {
    pub fn new(pool: PgPool, metrics: Arc<Metrics>) -> Self {
        Self {
            repo: PgEventRepository::new(pool.clone()),
            pool,
            locks: Mutex::new(HashMap::new()),
            cache: quick_cache::sync::Cache::new(CACHED_ROOMS),
            appended: Arc::new(Notify::new()),
            metrics,
        }
    }

    /// Notified after every append by this process (wakes the outbox relay).
    pub fn appended(&self) -> Arc<Notify> {
        self.appended.clone()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `command` on the room and appends what it yields. Returns the
    /// appended events (none when the command was already done).
    pub async fn execute(
        &self,
        room: RoomId,
        command: RecordingCommand,
        origin: &Origin,
    ) -> Result<Vec<Envelope>, CommandError> {
        let lock = self.room_lock(room);
        let _guard = lock.lock().await;
        let metadata = HashMap::from([
            (META_ACTOR.to_string(), origin.actor.clone()),
            (META_OCCURRED_AT.to_string(), origin.at.to_rfc3339()),
        ]);
        for attempt in 1..=MAX_ATTEMPTS {
            // Taken out, not copied: it goes back in only after a successful append.
            let cached = self.cache.remove(&room).map(|(_, loaded)| loaded);
            let from_cache = cached.is_some();
            let loaded = match cached {
                Some(c) => c,
                None => self.repo.load(room).await?,
            };
            // Decide on a copy: cqrs-es's sink applies each event to the
            // aggregate it is given, so `next` ends as the state after them.
            let mut next = loaded.state.clone();
            let sink = EventSink::default();
            let handled = next.handle(command.clone(), &(), &sink).await;
            let events = sink.collect().await;
            if from_cache && (handled.is_err() || events.is_empty()) {
                // A refusal or a no-op must never rest on state another node
                // may have moved on from: decide again on the log's state.
                continue;
            }
            if let Err(e) = handled {
                self.metrics.commands_rejected.inc();
                return Err(CommandError::Rejected(e));
            }
            if events.is_empty() {
                return Ok(vec![]);
            }
            let before = loaded.sequence;
            let after = before + events.len() as u64;
            // The snapshot is `next` itself: the state after exactly the events
            // appended, labelled with the last of them.
            let snapshot = snapshot::due(before, after).then_some(&next);
            match self
                .repo
                .append(room, before, &events, &metadata, snapshot)
                .await
            {
                Ok(()) => {
                    self.metrics.events_appended.inc_by(events.len() as u64);
                    self.appended.notify_one();
                    let state = Loaded {
                        state: next,
                        sequence: after,
                    };
                    self.cache.insert(room, state);
                    return Ok((before + 1..)
                        .zip(&events)
                        .map(|(sequence, e)| {
                            Envelope::new(room, sequence, e, &origin.actor, origin.at)
                        })
                        .collect());
                }
                Err(StoreError::Conflict) => {
                    self.metrics.append_conflicts.inc();
                    // Another process appended first: back off a little, with
                    // jitter so the losers do not collide again in step.
                    let jitter = (uuid::Uuid::new_v4().as_u128() % 5) as u64;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 2 + jitter))
                        .await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CommandError::Conflict)
    }

    /// The room's current aggregate state, `None` if the room does not exist.
    pub async fn load(&self, room: RoomId) -> Result<Option<Recording>, CommandError> {
        let loaded = self.repo.load(room).await?;
        Ok(loaded.state.room.is_some().then_some(loaded.state))
    }

    /// The room's state and sequence, as a command would see it (snapshot and
    /// the events after it) and as a replay from its first event makes it:
    /// equal unless a snapshot is wrong.
    pub async fn load_both_ways(&self, room: RoomId) -> Result<(Loaded, Loaded), CommandError> {
        Ok((self.repo.load(room).await?, self.repo.replay(room).await?))
    }

    /// Whether loading the room through its snapshot gives the same state as
    /// replaying its log from the first event (true when it has no snapshot).
    pub async fn snapshot_agrees(&self, room: RoomId) -> Result<bool, CommandError> {
        let (loaded, replayed) = self.load_both_ways(room).await?;
        Ok(loaded.sequence == replayed.sequence && loaded.state == replayed.state)
    }

    /// Replaces the room's snapshot with one made by replaying its log (the
    /// repair for a snapshot that disagrees: snapshots are only a cache).
    /// Returns the sequence it holds, or `None` when the room is below the
    /// first snapshot boundary and so keeps none.
    pub async fn rebuild_snapshot(&self, room: RoomId) -> Result<Option<u64>, CommandError> {
        let replayed = self.repo.replay(room).await?;
        self.forget(room);
        if replayed.sequence < snapshot::SNAPSHOT_EVERY {
            snapshot::delete(&self.pool, room)
                .await
                .map_err(StoreError::from)?;
            return Ok(None);
        }
        snapshot::write(&self.pool, room, replayed.sequence, &replayed.state)
            .await
            .map_err(StoreError::from)?;
        Ok(Some(replayed.sequence))
    }

    fn forget(&self, room: RoomId) {
        self.cache.remove(&room);
    }

    fn room_lock(&self, room: RoomId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("room lock map poisoned");
        // Forget locks nobody holds or waits for, so the map stays small.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(room).or_default().clone()
    }
}

/// The events of one room with `after < sequence <= until`, in order.
pub async fn room_events(
    pool: &PgPool,
    room: RoomId,
    after: u64,
    until: Option<u64>,
) -> Result<Vec<Envelope>, LogError> {
    let rows = sqlx::query_as::<_, EventRow>(
        "SELECT sequence, event_type, event_version, payload, metadata FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 AND sequence <= $4
          ORDER BY sequence",
    )
    .bind(Recording::TYPE)
    .bind(room.to_string())
    .bind(after as i64)
    .bind(until.map_or(i64::MAX, |u| u as i64))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| Ok(row.envelope(room)?))
        .collect()
}

/// The room's last sequence in the log (0 for a room with no events).
pub async fn last_sequence(pool: &PgPool, room: RoomId) -> Result<u64, LogError> {
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
    )
    .bind(Recording::TYPE)
    .bind(room.to_string())
    .fetch_one(pool)
    .await?;
    Ok(last.unwrap_or(0) as u64)
}

/// Whether the host removed `participant` from the room (Postgres decides:
/// asked on every authenticated request, so a removal takes effect at once on
/// every api node).
pub async fn is_removed(
    pool: &PgPool,
    room: RoomId,
    participant: ParticipantId,
) -> Result<bool, LogError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events
          WHERE aggregate_id = $1 AND event_type = 'ParticipantRemoved'
            AND payload -> 'ParticipantRemoved' ->> 'participant' = $2)",
    )
    .bind(room.to_string())
    .bind(participant.to_string())
    .fetch_one(pool)
    .await?)
}

/// Every room that has events, oldest first.
pub async fn rooms(pool: &PgPool) -> Result<Vec<RoomId>, LogError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM events WHERE aggregate_type = $1 AND sequence = 1 ORDER BY recorded_at",
    )
    .bind(Recording::TYPE)
    .fetch_all(pool)
    .await?;
    ids.into_iter()
        .map(|id| RoomId::parse(&id).map_err(|_| LogError::BadRoomId(id)))
        .collect()
}
