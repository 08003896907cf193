//! The room as the api shows it (`zencast_events::protocol::RoomView`), read
//! from the Redis projection.

use std::collections::{BTreeMap, HashMap};

use redis::aio::ConnectionManager;
use zencast_events::protocol::{
    FileView, InviteView, ParticipantView, RejectedChunk, RenderStatus, RenderView, RoomStatus,
    RoomView,
};
use zencast_events::{Layout, ParticipantId, RenderOutput, Role, RoomId};

use crate::keys::RoomKeys;
use crate::ops::field;
use crate::ProjectionError;

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
                participant_id: o.participant,
                size: o.size,
            })
        })
        .collect()
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
    let num32 = |f: &str| hash.get(f).and_then(|v| v.parse::<u32>().ok());
    // What every room's hash holds from its first event on; without it the
    // hash is not a room the projector wrote.
    let unreadable = |what: &'static str| ProjectionError::Unreadable { room, what };
    let status = get(field::STATUS)
        .and_then(|s| RoomStatus::parse(&s))
        .ok_or_else(|| unreadable("status"))?;
    let host = get(field::HOST)
        .and_then(|h| ParticipantId::parse(&h).ok())
        .ok_or_else(|| unreadable("host"))?;

    let mut participants: BTreeMap<ParticipantId, ParticipantView> = BTreeMap::new();
    for k in hash.keys() {
        let Some(id) = k
            .strip_prefix("participant:")
            .and_then(|r| r.strip_suffix(":name"))
        else {
            continue;
        };
        let Ok(participant_id) = ParticipantId::parse(id) else {
            continue;
        };
        let p = |what: &str| field::participant(&id, what);
        let role = get(&p("role")).and_then(|r| role(&r));
        participants.insert(
            participant_id,
            ParticipantView {
                participant_id,
                display_name: get(&p("name")).unwrap_or_default(),
                role: role.ok_or_else(|| unreadable("role"))?,
                present: present.iter().any(|x| x == id),
                removed: hash.contains_key(&p("removed_at")),
                arrived_late: hash.contains_key(&p("late_at")),
                chunks_stored: num32(&p("chunks")).unwrap_or(0),
                chunks_finished: num32(&p("finished")),
                chunks_expected: num32(&p("expected")),
                rejected_chunks: rejected(&hash, id),
            },
        );
    }
    let render_status = get(field::RENDER_STATUS).and_then(|s| RenderStatus::parse(&s));
    let live_attempt = render_status == Some(RenderStatus::Running)
        && progress.get("attempt") == hash.get(field::RENDER_ATTEMPT);
    Ok(Some(RoomView {
        room_id: room,
        status,
        title: get(field::TITLE).unwrap_or_default(),
        layout: get(field::LAYOUT)
            .and_then(|l| layout(&l))
            .unwrap_or_default(),
        host_participant_id: host,
        chunk_seconds: num32(field::CHUNK_SECONDS).unwrap_or(0),
        max_participants: num32(field::MAX_PARTICIPANTS).unwrap_or(0),
        created_at: get(field::CREATED_AT),
        recording_started_at: get(field::STARTED_AT),
        recording_stopped_at: get(field::STOPPED_AT),
        completed_at: get(field::COMPLETED_AT),
        chunks_total: num(field::CHUNKS_TOTAL).unwrap_or(0),
        bytes_total: num(field::BYTES_TOTAL).unwrap_or(0),
        participants: participants.into_values().collect(),
        invite: InviteView {
            generation: num32(field::INVITE_GENERATION).unwrap_or(0),
            revoked: get(field::INVITE_REVOKED).as_deref() == Some("true"),
            max_joins: num32(field::INVITE_MAX_JOINS),
        },
        render: RenderView {
            attempt: num32(field::RENDER_ATTEMPT),
            worker: get(field::RENDER_WORKER),
            layout: get(field::RENDER_LAYOUT).and_then(|l| layout(&l)),
            forced: get(field::RENDER_FORCED).as_deref() == Some("true"),
            error: render_status
                .filter(|s| matches!(s, RenderStatus::Retrying | RenderStatus::Failed))
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

fn layout(s: &str) -> Option<Layout> {
    Layout::ALL.into_iter().find(|l| l.as_str() == s)
}

fn role(s: &str) -> Option<Role> {
    [Role::Host, Role::Guest]
        .into_iter()
        .find(|r| r.as_str() == s)
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
