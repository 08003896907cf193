//! Refilling the stream from the log (`zencast republish`): the events of one
//! room, or of every room since a time, sent again to JetStream exactly as the
//! relay sent them (same subject, headers and `Nats-Msg-Id` = event id), in
//! per-room sequence order.
//!
//! JetStream drops a message whose `Nats-Msg-Id` it saw within its duplicate
//! window (2 min), so republishing what is already there is harmless; older
//! ones are stored again, and every consumer ignores them by sequence (the
//! projector's guard, the aggregate behind every worker). Use it when the
//! stream lost messages (a NATS node lost its disk, the stream was deleted or
//! purged, a Jepsen-style lost write) and ops tools that follow the stream
//! must see them; Zencast's own duties do not need it (their reconcilers read
//! Postgres).

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use sqlx::PgPool;
use zencast_events::{Recording, RoomId};

use crate::log::LogError;
use crate::outbox::publish;
use crate::repository::EventRow;
use zencast_nats::Subjects;

/// Events sent per round trip.
const BATCH: i64 = 500;

/// Which events to send again.
#[derive(Debug, Clone, Copy)]
pub enum Selection {
    Room(RoomId),
    /// Every event stored at or after this time, room by room.
    Since(DateTime<Utc>),
}

/// What a republish did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Republished {
    /// Events read from the log and sent.
    pub sent: u64,
    /// Of those, the ones JetStream already had (dropped as duplicates).
    pub duplicates: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RepublishError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("publishing {room}/{sequence}: {error}")]
    Publish {
        room: RoomId,
        sequence: u64,
        error: String,
    },
}

impl From<sqlx::Error> for RepublishError {
    fn from(e: sqlx::Error) -> Self {
        Self::Log(e.into())
    }
}

/// Sends the selected events again; stops at the first that JetStream refuses
/// (so nothing is sent out of order after a failure), saying which.
pub async fn republish(
    pool: &PgPool,
    js: &async_nats::jetstream::Context,
    subjects: &Subjects,
    selection: Selection,
) -> Result<Republished, RepublishError> {
    let mut done = Republished::default();
    // Keyset pagination over (room, sequence): stable while rooms grow.
    let mut after = (String::new(), 0i64);
    loop {
        let rows = page(pool, selection, &after).await?;
        let Some(last) = rows.last() else {
            return Ok(done);
        };
        after = (last.aggregate_id.clone(), last.sequence);
        let mut envelopes = Vec::with_capacity(rows.len());
        for row in rows {
            let room = row
                .room()
                .map_err(|_| LogError::BadRoomId(row.aggregate_id.clone()))?;
            envelopes.push(row.envelope(room).map_err(LogError::from)?);
        }
        for (env, ack) in envelopes
            .iter()
            .zip(publish(js, subjects, &envelopes).await)
        {
            let ack = ack.map_err(|error| RepublishError::Publish {
                room: env.room_id,
                sequence: env.sequence,
                error,
            })?;
            done.sent += 1;
            done.duplicates += u64::from(ack.duplicate);
        }
    }
}

async fn page(
    pool: &PgPool,
    selection: Selection,
    (room, sequence): &(String, i64),
) -> Result<Vec<EventRow>, sqlx::Error> {
    const COLUMNS: &str = "aggregate_id, sequence, event_type, event_version, payload, metadata";
    match selection {
        Selection::Room(id) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM events
                  WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
                  ORDER BY sequence LIMIT $4"
            ))
            .bind(Recording::TYPE)
            .bind(id.to_string())
            .bind(sequence)
            .bind(BATCH)
            .fetch_all(pool)
            .await
        }
        Selection::Since(since) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM events
                  WHERE aggregate_type = $1 AND recorded_at >= $2
                    AND (aggregate_id, sequence) > ($3, $4)
                  ORDER BY aggregate_id, sequence LIMIT $5"
            ))
            .bind(Recording::TYPE)
            .bind(since)
            .bind(room)
            .bind(sequence)
            .bind(BATCH)
            .fetch_all(pool)
            .await
        }
    }
}
