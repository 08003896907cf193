//! The room projection in Redis: applying one event atomically, guarded by the
//! room's last applied sequence.

use redis::aio::ConnectionManager;
use redis::Script;
use zencast_events::{Envelope, ParticipantId};

use crate::keys::RoomKeys;
use crate::ops::{field, ops_for, Key, Op};
use crate::ProjectionError;

/// Check-and-apply in one step: Redis runs a script atomically, so no other
/// writer can slip between reading `last_sequence` and writing the event's
/// changes. Returns {outcome, last}: 1 applied, 0 already applied, 2 gap.
const APPLY: &str = r#"
local last = tonumber(redis.call('HGET', KEYS[1], 'last_sequence') or '0')
local seq = tonumber(ARGV[1])
if seq <= last then return {0, last} end
if seq ~= last + 1 then return {2, last} end
for _, op in ipairs(cjson.decode(ARGV[2])) do
  local key = KEYS[op[2]]
  if op[1] == 'hset' then redis.call('HSET', key, op[3], op[4])
  elseif op[1] == 'hincrby' then redis.call('HINCRBY', key, op[3], op[4])
  elseif op[1] == 'sadd' then redis.call('SADD', key, op[3])
  elseif op[1] == 'srem' then redis.call('SREM', key, op[3])
  else return redis.error_reply('unknown op ' .. tostring(op[1])) end
end
redis.call('HSET', KEYS[1], 'last_sequence', seq)
return {1, seq}
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Its sequence was already applied: a redelivery or a re-publish.
    AlreadyApplied,
    /// Events between the last applied one and this one are missing.
    Gap {
        last_applied: u64,
    },
}

#[derive(Clone)]
pub struct RoomState {
    redis: ConnectionManager,
    prefix: String,
    script: Script,
}

impl RoomState {
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
            script: Script::new(APPLY),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    pub async fn apply(&self, env: &Envelope) -> Result<Outcome, ProjectionError> {
        let keys = RoomKeys::new(&self.prefix, env.room_id);
        let ops = ops_for(env)?;
        let chunk_owner: Option<ParticipantId> = ops.iter().find_map(|op| match op {
            Op::SAdd(Key::Chunks(p), _) | Op::SRem(Key::Chunks(p), _) => Some(*p),
            _ => None,
        });
        let mut key_names = vec![keys.room(), keys.participants()];
        if let Some(p) = chunk_owner {
            key_names.push(keys.chunks(p));
        }
        let encoded: Vec<serde_json::Value> = ops
            .iter()
            .map(|op| {
                let slot = |k: &Key| match k {
                    Key::Room => 1,
                    Key::Participants => 2,
                    Key::Chunks(_) => 3,
                };
                match op {
                    Op::HSet(k, f, v) => serde_json::json!(["hset", slot(k), f, v]),
                    Op::HIncrBy(k, f, n) => serde_json::json!(["hincrby", slot(k), f, n]),
                    Op::SAdd(k, m) => serde_json::json!(["sadd", slot(k), m]),
                    Op::SRem(k, m) => serde_json::json!(["srem", slot(k), m]),
                }
            })
            .collect();
        let mut invocation = self.script.prepare_invoke();
        for k in &key_names {
            invocation.key(k);
        }
        invocation
            .arg(env.sequence)
            .arg(serde_json::to_string(&encoded).expect("ops serialize"));
        let mut conn = self.redis.clone();
        let (outcome, last): (i64, u64) = invocation.invoke_async(&mut conn).await?;
        Ok(match outcome {
            1 => Outcome::Applied,
            0 => Outcome::AlreadyApplied,
            _ => Outcome::Gap { last_applied: last },
        })
    }

    /// The last sequence applied to the room (0 if none).
    pub async fn last_sequence(
        &self,
        room: zencast_events::RoomId,
    ) -> Result<u64, ProjectionError> {
        let mut conn = self.redis.clone();
        let v: Option<u64> = redis::cmd("HGET")
            .arg(RoomKeys::new(&self.prefix, room).room())
            .arg(field::LAST_SEQUENCE)
            .query_async(&mut conn)
            .await?;
        Ok(v.unwrap_or(0))
    }
}
