//! Snapshots of the `Recording` aggregate: a cache that saves replaying a long
//! room from its first event. Deleting them loses nothing.
//!
//! A snapshot is right by construction: it is the state after exactly the
//! events up to `sequence`, stored with that sequence inside its own payload
//! and in the row's `last_sequence`, in the same transaction as the event at
//! `sequence` (or, when healing, from a replay of exactly those events).
//!
//! Why not cqrs-es 0.5's snapshots: its `PersistedEventStore::commit` builds the
//! snapshot from the events only up to the multiple of the snapshot size that
//! the append crosses (`commit_snapshot_with_addl_events`), while the repository
//! API (`persist(events, Some((id, payload, version)))`) carries no sequence, so
//! a repository (postgres-es's, and ours before) labels it with the append's
//! last sequence. An append of 99 → 101 thus stored the state after 100
//! labelled 101, and every later load skipped event 101.
//!
//! Rows written that way (the old format: the bare aggregate) are recognised
//! and ignored on load; the room is replayed from its first event and a
//! correct snapshot replaces the row ([`Snapshots::read`] reports it, the
//! repository heals it).

use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use zencast_events::{Recording, RoomId};

/// A snapshot every this many events, so that loading a long session reads at
/// most this many events after it.
pub const SNAPSHOT_EVERY: u64 = 100;

/// The payload format written today. The first format (cqrs-es's, the bare
/// aggregate) had no `format` field and no sequence of its own.
const FORMAT: u32 = 2;

/// Whether an append that moved a room from `before` to `after` crossed a
/// multiple of [`SNAPSHOT_EVERY`], and so should leave a snapshot at `after`.
pub fn due(before: u64, after: u64) -> bool {
    before / SNAPSHOT_EVERY != after / SNAPSHOT_EVERY
}

#[derive(Serialize, Deserialize)]
struct Payload<S> {
    format: u32,
    /// The last event folded into `state`; equal to the row's `last_sequence`.
    sequence: u64,
    state: S,
}

/// What a room's snapshot row holds, once checked.
pub enum Stored {
    /// No row.
    None,
    /// A row that cannot be trusted (old format, label and content disagree,
    /// or a shape the aggregate no longer reads): replay from zero instead.
    Unusable { why: String },
    /// The state after exactly the events up to `sequence`.
    Valid { sequence: u64, state: Recording },
}

/// Reads a room's snapshot and checks that it can be trusted.
pub async fn read<'e>(executor: impl PgExecutor<'e>, room: RoomId) -> Result<Stored, sqlx::Error> {
    let row: Option<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT last_sequence, payload FROM snapshots
          WHERE aggregate_type = $1 AND aggregate_id = $2",
    )
    .bind(<Recording as cqrs_es::Aggregate>::TYPE)
    .bind(room.to_string())
    .fetch_optional(executor)
    .await?;
    let Some((label, payload)) = row else {
        return Ok(Stored::None);
    };
    Ok(check(label as u64, payload))
}

fn check(label: u64, payload: serde_json::Value) -> Stored {
    if payload.get("format").and_then(|f| f.as_u64()) != Some(u64::from(FORMAT)) {
        return Stored::Unusable {
            why: "written by cqrs-es's snapshot logic (state and label may disagree)".into(),
        };
    }
    match serde_json::from_value::<Payload<Recording>>(payload) {
        Ok(p) if p.sequence == label => Stored::Valid {
            sequence: p.sequence,
            state: p.state,
        },
        Ok(p) => Stored::Unusable {
            why: format!("labelled {label} but holds the state after {}", p.sequence),
        },
        Err(e) => Stored::Unusable {
            why: format!("the aggregate no longer reads it: {e}"),
        },
    }
}

/// Stores `state`, the state after exactly the events up to `sequence`, unless
/// a snapshot of a later sequence is already there (a repair racing a live
/// append must not move the cache backwards). Rewriting the same sequence is
/// harmless: the state after a given event is always the same.
pub async fn write<'e>(
    executor: impl PgExecutor<'e>,
    room: RoomId,
    sequence: u64,
    state: &Recording,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_value(Payload {
        format: FORMAT,
        sequence,
        state,
    })
    .expect("the aggregate always serialises");
    sqlx::query(
        "INSERT INTO snapshots AS s (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
         VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
            SET last_sequence = EXCLUDED.last_sequence,
                current_snapshot = s.current_snapshot + 1,
                payload = EXCLUDED.payload
          WHERE s.last_sequence <= EXCLUDED.last_sequence
             OR s.payload->>'format' IS DISTINCT FROM $5",
    )
    .bind(<Recording as cqrs_es::Aggregate>::TYPE)
    .bind(room.to_string())
    .bind(sequence as i64)
    .bind(&payload)
    .bind(FORMAT.to_string())
    .execute(executor)
    .await?;
    Ok(())
}

/// Removes the room's snapshot (loads then replay from the first event).
pub async fn delete<'e>(executor: impl PgExecutor<'e>, room: RoomId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM snapshots WHERE aggregate_type = $1 AND aggregate_id = $2")
        .bind(<Recording as cqrs_es::Aggregate>::TYPE)
        .bind(room.to_string())
        .execute(executor)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_due_when_an_append_crosses_a_multiple() {
        assert!(!due(0, 2));
        assert!(!due(98, 99));
        assert!(due(99, 100));
        assert!(due(99, 101));
        assert!(due(98, 102));
        assert!(!due(100, 101));
        assert!(!due(100, 199));
        assert!(due(199, 201));
        assert!(due(150, 350));
    }

    #[test]
    fn only_a_current_format_snapshot_whose_label_matches_is_used() {
        let state = Recording::default();
        let good = serde_json::to_value(Payload {
            format: FORMAT,
            sequence: 101,
            state: &state,
        })
        .unwrap();
        assert!(matches!(
            check(101, good.clone()),
            Stored::Valid { sequence: 101, .. }
        ));
        assert!(matches!(check(102, good), Stored::Unusable { .. }));
        // What cqrs-es 0.5 stored: the bare aggregate.
        let old = serde_json::to_value(&state).unwrap();
        assert!(matches!(check(101, old), Stored::Unusable { .. }));
        let garbled = serde_json::json!({"format": FORMAT, "sequence": 3, "state": 7});
        assert!(matches!(check(3, garbled), Stored::Unusable { .. }));
    }
}
