//! A running render's progress and heartbeat. Progress is not an event (it
//! would flood the log); it goes to core NATS `zencast.progress.{roomId}` as a
//! ready-made WebSocket frame (`ServerFrame::Progress`) and to the Redis hash `zencast:progress:{roomId}`,
//! which expires unless refreshed. A worker that stops refreshing it is
//! presumed dead, and its attempt is failed and retried by another worker.

use std::time::Duration;

use redis::aio::ConnectionManager;
use zencast_events::protocol::ServerFrame;
use zencast_events::RoomId;
use zencast_nats::Subjects;
use zencast_projections::keys::RoomKeys;

#[derive(Clone)]
pub struct Progress {
    pub nats: async_nats::Client,
    pub redis: ConnectionManager,
    pub subjects: Subjects,
    /// How long a heartbeat keeps an attempt alive.
    pub ttl: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Beat {
    pub attempt: u32,
    pub worker: String,
    pub stage: String,
    pub percent: f64,
}

impl Progress {
    pub async fn beat(&self, room: RoomId, beat: &Beat) -> Result<(), redis::RedisError> {
        let key = RoomKeys::new(self.subjects.prefix(), room).progress();
        let percent = (beat.percent * 10.0).round() / 10.0;
        let mut conn = self.redis.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("attempt", beat.attempt.to_string()),
                    ("worker", beat.worker.clone()),
                    ("stage", beat.stage.clone()),
                    ("percent", percent.to_string()),
                    ("updated_at", chrono::Utc::now().to_rfc3339()),
                ],
            )
            .pexpire(&key, self.ttl.as_millis() as i64)
            .query_async::<()>(&mut conn)
            .await?;
        let frame = ServerFrame::Progress {
            room_id: room,
            attempt: beat.attempt,
            stage: beat.stage.clone(),
            percent,
        };
        // Progress is best effort: a lost message is replaced half a second later.
        let _ = self
            .nats
            .publish(self.subjects.progress(room), frame.to_text().into())
            .await;
        Ok(())
    }

    /// Whether the worker running `attempt` has beaten within the ttl.
    pub async fn alive(&self, room: RoomId, attempt: u32) -> Result<bool, redis::RedisError> {
        let key = RoomKeys::new(self.subjects.prefix(), room).progress();
        let mut conn = self.redis.clone();
        let current: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("attempt")
            .query_async(&mut conn)
            .await?;
        Ok(current == Some(attempt.to_string()))
    }
}
