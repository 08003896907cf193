//! What an event does to the room's Redis state, as data. The same list of
//! operations is applied to Redis by the projector (atomically, guarded by the
//! sequence) and to an in-memory model by replay, so the two cannot drift.

use serde::Serialize;
use zencast_events::{Envelope, EnvelopeError, ParticipantId, RecordingEvent};

/// Which of the room's keys an operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Room,
    Participants,
    Chunks(ParticipantId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    HSet(Key, String, String),
    HIncrBy(Key, String, i64),
    SAdd(Key, String),
    SRem(Key, String),
}

/// Hash field names, shared by the projection and its readers.
pub mod field {
    pub const STATUS: &str = "status";
    pub const TITLE: &str = "title";
    pub const LAYOUT: &str = "layout";
    pub const HOST: &str = "host";
    pub const CHUNK_SECONDS: &str = "chunk_seconds";
    pub const MAX_PARTICIPANTS: &str = "max_participants";
    pub const CREATED_AT: &str = "created_at";
    pub const STARTED_AT: &str = "recording_started_at";
    pub const STOPPED_AT: &str = "recording_stopped_at";
    pub const COMPLETED_AT: &str = "completed_at";
    pub const COMPLETION_REASON: &str = "completion_reason";
    pub const CHUNKS_TOTAL: &str = "chunks_total";
    pub const BYTES_TOTAL: &str = "bytes_total";
    pub const RENDER_STATUS: &str = "render_status";
    pub const RENDER_ATTEMPT: &str = "render_attempt";
    pub const RENDER_WORKER: &str = "render_worker";
    pub const RENDER_ERROR: &str = "render_error";
    pub const RENDER_LAYOUT: &str = "render_layout";
    pub const RENDER_FORCED: &str = "render_forced";
    /// JSON list of the files the last completed render wrote.
    pub const RENDER_OUTPUTS: &str = "render_outputs";
    pub const FINAL_KEY: &str = "final_key";
    pub const FINAL_SIZE: &str = "final_size";
    pub const FINAL_DURATION_MS: &str = "final_duration_ms";
    pub const LAST_SEQUENCE: &str = "last_sequence";
    pub const INVITE_GENERATION: &str = "invite_generation";
    pub const INVITE_REVOKED: &str = "invite_revoked";
    /// Absent, or empty, when the link admits as many as the room holds.
    pub const INVITE_MAX_JOINS: &str = "invite_max_joins";
    pub const UPDATED_AT: &str = "updated_at";

    pub fn participant(id: &impl std::fmt::Display, what: &str) -> String {
        format!("participant:{id}:{what}")
    }

    /// The ingest worker's verdict on one chunk: `ok`, or `REJECTED` + why.
    pub fn verdict(id: &impl std::fmt::Display, index: impl std::fmt::Display) -> String {
        format!("participant:{id}:verdict:{index}")
    }
    pub const REJECTED: &str = "rejected: ";

    /// Where window `index` of the timeline ends (ms), once it is rendered.
    pub fn window(index: u32) -> String {
        format!("window:{index}")
    }
}

fn hset(key: Key, field: impl Into<String>, value: impl ToString) -> Op {
    Op::HSet(key, field.into(), value.to_string())
}

/// The operations that apply `env` to its room's state (without the sequence
/// bookkeeping, which the caller adds).
pub fn ops_for(env: &Envelope) -> Result<Vec<Op>, EnvelopeError> {
    use field::*;
    use RecordingEvent as E;
    let at = env.occurred_at.to_rfc3339();
    let mut ops = vec![hset(Key::Room, UPDATED_AT, &at)];
    match env.event()? {
        E::RoomCreated {
            title,
            host,
            layout,
            chunk_seconds,
            max_participants,
            ..
        } => ops.extend([
            hset(Key::Room, STATUS, "open"),
            hset(Key::Room, TITLE, title),
            hset(Key::Room, LAYOUT, layout.as_str()),
            hset(Key::Room, HOST, host),
            hset(Key::Room, CHUNK_SECONDS, chunk_seconds),
            hset(Key::Room, MAX_PARTICIPANTS, max_participants),
            hset(Key::Room, CREATED_AT, &at),
            hset(Key::Room, CHUNKS_TOTAL, 0),
            hset(Key::Room, BYTES_TOTAL, 0),
        ]),
        E::ParticipantJoined {
            participant,
            display_name,
            role,
        } => ops.extend([
            hset(
                Key::Room,
                field::participant(&participant, "name"),
                display_name,
            ),
            hset(
                Key::Room,
                field::participant(&participant, "role"),
                role.as_str(),
            ),
            hset(
                Key::Room,
                field::participant(&participant, "joined_at"),
                &at,
            ),
            Op::SAdd(Key::Participants, participant.to_string()),
        ]),
        E::ParticipantLeft { participant, .. } => ops.extend([
            hset(Key::Room, field::participant(&participant, "left_at"), &at),
            Op::SRem(Key::Participants, participant.to_string()),
        ]),
        E::ParticipantRemoved {
            participant,
            chunk_count,
        } => ops.extend([
            hset(
                Key::Room,
                field::participant(&participant, "removed_at"),
                &at,
            ),
            hset(
                Key::Room,
                field::participant(&participant, "finished"),
                chunk_count,
            ),
            Op::SRem(Key::Participants, participant.to_string()),
        ]),
        E::InviteIssued {
            generation,
            max_joins,
        } => ops.extend([
            hset(Key::Room, INVITE_GENERATION, generation),
            hset(Key::Room, INVITE_REVOKED, false),
            hset(
                Key::Room,
                INVITE_MAX_JOINS,
                max_joins.map_or(String::new(), |n| n.to_string()),
            ),
        ]),
        E::InviteRevoked { .. } => ops.push(hset(Key::Room, INVITE_REVOKED, true)),
        E::RecordingStarted { at: started } => ops.extend([
            hset(Key::Room, STATUS, "recording"),
            hset(Key::Room, STARTED_AT, started.to_rfc3339()),
        ]),
        E::RecordingStopped { at: stopped } => ops.extend([
            hset(Key::Room, STATUS, "stopped"),
            hset(Key::Room, STOPPED_AT, stopped.to_rfc3339()),
        ]),
        E::ChunkUploaded {
            participant,
            index,
            size,
            ..
        } => ops.extend([
            Op::SAdd(Key::Chunks(participant), index.to_string()),
            Op::HIncrBy(Key::Room, field::participant(&participant, "chunks"), 1),
            Op::HIncrBy(Key::Room, CHUNKS_TOTAL.into(), 1),
            Op::HIncrBy(Key::Room, BYTES_TOTAL.into(), size as i64),
        ]),
        E::ParticipantUploadsFinished {
            participant,
            chunk_count,
        } => ops.push(hset(
            Key::Room,
            field::participant(&participant, "finished"),
            chunk_count,
        )),
        E::SessionCompleted {
            expected_chunks,
            reason,
        } => {
            ops.extend([
                hset(Key::Room, STATUS, "completed"),
                hset(Key::Room, COMPLETED_AT, &at),
                hset(Key::Room, COMPLETION_REASON, serde_plain(&reason)),
                hset(Key::Room, RENDER_STATUS, "pending"),
            ]);
            for (p, n) in expected_chunks {
                ops.push(hset(Key::Room, field::participant(&p, "expected"), n));
            }
        }
        E::RenderRequested { layout, force } => ops.extend([
            hset(Key::Room, RENDER_STATUS, "requested"),
            hset(Key::Room, RENDER_LAYOUT, layout.as_str()),
            hset(Key::Room, RENDER_FORCED, force),
        ]),
        E::RenderStarted {
            worker,
            attempt,
            layout,
            forced,
        } => ops.extend([
            hset(Key::Room, RENDER_STATUS, "running"),
            hset(Key::Room, RENDER_ATTEMPT, attempt),
            hset(Key::Room, RENDER_WORKER, worker),
            hset(Key::Room, RENDER_LAYOUT, layout.as_str()),
            hset(Key::Room, RENDER_FORCED, forced),
        ]),
        E::RenderCompleted {
            key,
            size,
            duration_ms,
            outputs,
            ..
        } => ops.extend([
            hset(Key::Room, RENDER_STATUS, "completed"),
            hset(Key::Room, FINAL_KEY, key),
            hset(Key::Room, FINAL_SIZE, size),
            hset(Key::Room, FINAL_DURATION_MS, duration_ms),
            hset(
                Key::Room,
                RENDER_OUTPUTS,
                serde_json::to_string(&outputs).unwrap_or_default(),
            ),
        ]),
        // A verdict per chunk: a re-sent chunk's new verdict replaces the old.
        E::ChunkProbed {
            participant, index, ..
        } => ops.push(hset(Key::Room, field::verdict(&participant, index), "ok")),
        E::ChunkRejected {
            participant,
            index,
            reason,
            ..
        } => ops.push(hset(
            Key::Room,
            field::verdict(&participant, index),
            format!("{}{reason}", field::REJECTED),
        )),
        E::WindowRendered { index, to_ms, .. } => {
            ops.push(hset(Key::Room, field::window(index), to_ms))
        }
        E::RenderFailed { reason, last, .. } => ops.extend([
            hset(
                Key::Room,
                RENDER_STATUS,
                if last { "failed" } else { "retrying" },
            ),
            hset(Key::Room, RENDER_ERROR, reason),
        ]),
        E::UploadsArrivedLate {
            participant,
            chunk_count,
        } => ops.extend([
            hset(Key::Room, field::participant(&participant, "late_at"), &at),
            hset(
                Key::Room,
                field::participant(&participant, "expected"),
                chunk_count,
            ),
        ]),
        E::RecordingDeleted {} => ops.push(hset(Key::Room, STATUS, "deleted")),
        E::RecordingSwept { .. } => {}
    }
    Ok(ops)
}

/// A unit enum variant as its serde name (`grace-period-expired`).
fn serde_plain<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}
