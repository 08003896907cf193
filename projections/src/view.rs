//! The room as the api shows it, read from the Redis projection.

use std::collections::{BTreeMap, HashMap};

use redis::aio::ConnectionManager;
use serde::Serialize;
use zencast_events::{OutputKind, RenderOutput, RoomId};

use crate::keys::RoomKeys;
use crate::ops::field;
use crate::ProjectionError;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantView {
    pub participant_id: String,
    pub display_name: String,
    pub role: String,
    /// In the room now.
    pub present: bool,
    pub chunks_stored: u64,
    pub chunks_finished: Option<u64>,
    pub chunks_expected: Option<u64>,
    /// Stored chunks that do not decode (the participant may send them again).
    pub rejected_chunks: Vec<RejectedChunk>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RejectedChunk {
    pub index: u32,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RenderView {
    /// `pending`, `requested`, `running`, `retrying`, `completed` or `failed`.
    pub status: Option<String>,
    pub attempt: Option<u64>,
    pub worker: Option<String>,
    pub layout: Option<String>,
    pub forced: bool,
    /// The last failure, while it matters (`retrying` or `failed`).
    pub error: Option<String>,
    /// Live progress of the running attempt, 0–100.
    pub percent: Option<f64>,
    pub stage: Option<String>,
    pub final_key: Option<String>,
    pub final_size: Option<u64>,
    pub final_duration_ms: Option<u64>,
    /// What the last completed render wrote, with where to download it.
    pub files: Vec<FileView>,
    /// How far the render has caught up with the recording (ms of the
    /// timeline rendered in windows while the session goes on).
    pub rendered_until_ms: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    /// `final.mp4`, `tracks/{participantId}.wav` or `tracks/{participantId}.mp4`.
    pub name: String,
    /// `final`, `track-audio` or `track-video`.
    pub kind: OutputKind,
    pub participant_id: Option<String>,
    pub size: u64,
    /// `/api/recordings/{roomId}/files/{name}` (needs a participant token).
    pub url: String,
}

/// The download name of an output key: the part after `processed/{roomId}/`.
pub fn file_name(room: RoomId, key: &str) -> Option<&str> {
    key.strip_prefix(&format!("processed/{room}/"))
}

fn files(room: RoomId, outputs: Option<&String>) -> Vec<FileView> {
    let outputs: Vec<RenderOutput> = outputs
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    outputs
        .into_iter()
        .filter_map(|o| {
            let name = file_name(room, &o.key)?.to_string();
            Some(FileView {
                url: format!("/api/recordings/{room}/files/{name}"),
                name,
                kind: o.kind,
                participant_id: o.participant.map(|p| p.to_string()),
                size: o.size,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoomView {
    pub room_id: RoomId,
    pub status: String,
    pub title: String,
    pub layout: String,
    pub host_participant_id: String,
    pub chunk_seconds: u64,
    pub max_participants: u64,
    pub created_at: Option<String>,
    pub recording_started_at: Option<String>,
    pub recording_stopped_at: Option<String>,
    pub completed_at: Option<String>,
    pub chunks_total: u64,
    pub bytes_total: u64,
    pub participants: Vec<ParticipantView>,
    pub render: RenderView,
    /// The last event applied: compare with the audit log to see lag.
    pub last_sequence: u64,
}

pub async fn read_room(
    redis: &ConnectionManager,
    prefix: &str,
    room: RoomId,
) -> Result<Option<RoomView>, ProjectionError> {
    let keys = RoomKeys::new(prefix, room);
    let mut conn = redis.clone();
    let (hash, present, progress): (
        HashMap<String, String>,
        Vec<String>,
        HashMap<String, String>,
    ) = redis::pipe()
        .hgetall(keys.room())
        .smembers(keys.participants())
        .hgetall(keys.progress())
        .query_async(&mut conn)
        .await?;
    if hash.is_empty() {
        return Ok(None);
    }
    let get = |f: &str| hash.get(f).cloned();
    let num = |f: &str| hash.get(f).and_then(|v| v.parse::<u64>().ok());

    let mut participants: BTreeMap<String, ParticipantView> = BTreeMap::new();
    for (k, _) in hash.iter() {
        if let Some(id) = k
            .strip_prefix("participant:")
            .and_then(|r| r.strip_suffix(":name"))
        {
            let p = |what: &str| field::participant(&id, what);
            participants.insert(
                id.to_string(),
                ParticipantView {
                    participant_id: id.to_string(),
                    display_name: get(&p("name")).unwrap_or_default(),
                    role: get(&p("role")).unwrap_or_default(),
                    present: present.iter().any(|x| x == id),
                    chunks_stored: num(&p("chunks")).unwrap_or(0),
                    chunks_finished: num(&p("finished")),
                    chunks_expected: num(&p("expected")),
                    rejected_chunks: rejected(&hash, id),
                },
            );
        }
    }
    let render_status = get(field::RENDER_STATUS);
    let live_attempt = render_status.as_deref() == Some("running")
        && progress.get("attempt") == hash.get(field::RENDER_ATTEMPT);
    Ok(Some(RoomView {
        room_id: room,
        status: get(field::STATUS).unwrap_or_default(),
        title: get(field::TITLE).unwrap_or_default(),
        layout: get(field::LAYOUT).unwrap_or_default(),
        host_participant_id: get(field::HOST).unwrap_or_default(),
        chunk_seconds: num(field::CHUNK_SECONDS).unwrap_or(0),
        max_participants: num(field::MAX_PARTICIPANTS).unwrap_or(0),
        created_at: get(field::CREATED_AT),
        recording_started_at: get(field::STARTED_AT),
        recording_stopped_at: get(field::STOPPED_AT),
        completed_at: get(field::COMPLETED_AT),
        chunks_total: num(field::CHUNKS_TOTAL).unwrap_or(0),
        bytes_total: num(field::BYTES_TOTAL).unwrap_or(0),
        participants: participants.into_values().collect(),
        render: RenderView {
            attempt: num(field::RENDER_ATTEMPT),
            worker: get(field::RENDER_WORKER),
            layout: get(field::RENDER_LAYOUT),
            forced: get(field::RENDER_FORCED).as_deref() == Some("true"),
            error: render_status
                .as_deref()
                .filter(|s| matches!(*s, "retrying" | "failed"))
                .and(get(field::RENDER_ERROR)),
            // Progress of the attempt that is running now, not of an earlier one.
            percent: progress
                .get("percent")
                .filter(|_| live_attempt)
                .and_then(|p| p.parse().ok()),
            stage: progress.get("stage").filter(|_| live_attempt).cloned(),
            files: files(room, hash.get(field::RENDER_OUTPUTS)),
            status: render_status,
            final_key: get(field::FINAL_KEY),
            final_size: num(field::FINAL_SIZE),
            final_duration_ms: num(field::FINAL_DURATION_MS),
            rendered_until_ms: (0..)
                .map_while(|i| num(&field::window(i)))
                .last()
                .unwrap_or(0),
        },
        last_sequence: num(field::LAST_SEQUENCE).unwrap_or(0),
    }))
}

/// A participant's chunks whose verdict is `rejected`, by index.
fn rejected(hash: &HashMap<String, String>, id: &str) -> Vec<RejectedChunk> {
    let prefix = field::verdict(&id, "");
    let mut out: Vec<RejectedChunk> = hash
        .iter()
        .filter_map(|(k, v)| {
            let index = k.strip_prefix(&prefix)?.parse().ok()?;
            let reason = v.strip_prefix(field::REJECTED)?.to_string();
            Some(RejectedChunk { index, reason })
        })
        .collect();
    out.sort_by_key(|r| r.index);
    out
}
