//! Which participants have a live socket, across every api node.
//!
//! Each socket registers itself in a Redis sorted set per participant, scored by
//! an expiry it refreshes while alive, so a node that dies without cleaning up
//! stops counting within `LEASE`. These keys are live connection state, not
//! part of the room projection (replay neither writes nor checks them).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use uuid::Uuid;
use zencast_events::{ParticipantId, RoomId};

/// How long a socket counts as live without a refresh.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a live socket refreshes its lease.
pub const REFRESH: Duration = Duration::from_secs(10);

fn key(prefix: &str, room: RoomId, participant: ParticipantId) -> String {
    format!("{prefix}:presence:{room}:{participant}")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Registers or refreshes one socket.
pub async fn hold(
    redis: &ConnectionManager,
    prefix: &str,
    room: RoomId,
    participant: ParticipantId,
    socket: Uuid,
) -> redis::RedisResult<()> {
    let k = key(prefix, room, participant);
    redis::pipe()
        .cmd("ZADD")
        .arg(&k)
        .arg(now_ms() + LEASE.as_millis() as u64)
        .arg(socket.to_string())
        .ignore()
        .cmd("PEXPIRE")
        .arg(&k)
        .arg(2 * LEASE.as_millis() as u64)
        .ignore()
        .query_async::<()>(&mut redis.clone())
        .await
}

pub async fn release(
    redis: &ConnectionManager,
    prefix: &str,
    room: RoomId,
    participant: ParticipantId,
    socket: Uuid,
) -> redis::RedisResult<()> {
    redis::cmd("ZREM")
        .arg(key(prefix, room, participant))
        .arg(socket.to_string())
        .query_async::<()>(&mut redis.clone())
        .await
}

/// Whether the participant has any live socket on any node.
pub async fn is_connected(
    redis: &ConnectionManager,
    prefix: &str,
    room: RoomId,
    participant: ParticipantId,
) -> redis::RedisResult<bool> {
    Ok(live_sockets(redis, prefix, room, participant).await? > 0)
}

/// The participant's live sockets on every node.
pub async fn live_sockets(
    redis: &ConnectionManager,
    prefix: &str,
    room: RoomId,
    participant: ParticipantId,
) -> redis::RedisResult<u64> {
    redis::cmd("ZCOUNT")
        .arg(key(prefix, room, participant))
        .arg(now_ms())
        .arg("+inf")
        .query_async(&mut redis.clone())
        .await
}
