//! A room's Redis keys as plain data: built by folding events (replay) or read
//! from Redis (live), and compared field by field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use zencast_events::{Envelope, RoomId};

use crate::keys::RoomKeys;
use crate::ops::{field, ops_for, Key, Op};
use crate::ProjectionError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Hash(BTreeMap<String, String>),
    Set(BTreeSet<String>),
}

/// Every key of one room and its content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomModel {
    pub keys: BTreeMap<String, Value>,
}

/// One way in which live state differs from the state rebuilt from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub key: String,
    pub field: Option<String>,
    pub live: Option<String>,
    pub rebuilt: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(missing)".into());
        match &self.field {
            Some(field) => write!(
                f,
                "{} {}: live {} ≠ rebuilt {}",
                self.key,
                field,
                show(&self.live),
                show(&self.rebuilt)
            ),
            None => write!(
                f,
                "{}: live {} ≠ rebuilt {}",
                self.key,
                show(&self.live),
                show(&self.rebuilt)
            ),
        }
    }
}

impl RoomModel {
    /// The state the projection must have after `events` (in order, from 1).
    pub fn rebuild(
        prefix: &str,
        room: RoomId,
        events: &[Envelope],
    ) -> Result<Self, ProjectionError> {
        let keys = RoomKeys::new(prefix, room);
        let mut model = Self::default();
        for env in events {
            for op in ops_for(env)? {
                model.apply(&keys, op);
            }
            model.apply(
                &keys,
                Op::HSet(
                    Key::Room,
                    field::LAST_SEQUENCE.into(),
                    env.sequence.to_string(),
                ),
            );
        }
        Ok(model)
    }

    fn apply(&mut self, keys: &RoomKeys, op: Op) {
        let name = |k: &Key| match k {
            Key::Room => keys.room(),
            Key::Participants => keys.participants(),
            Key::Chunks(p) => keys.chunks(*p),
        };
        match op {
            Op::HSet(k, f, v) => {
                self.hash(name(&k)).insert(f, v);
            }
            Op::HIncrBy(k, f, n) => {
                let h = self.hash(name(&k));
                let now = h.get(&f).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
                h.insert(f, (now + n).to_string());
            }
            Op::SAdd(k, m) => {
                self.set(name(&k)).insert(m);
            }
            Op::SRem(k, m) => {
                let key = name(&k);
                self.set(key.clone()).remove(&m);
                // Redis deletes a set when its last member goes.
                if matches!(self.keys.get(&key), Some(Value::Set(s)) if s.is_empty()) {
                    self.keys.remove(&key);
                }
            }
        }
    }

    fn hash(&mut self, key: String) -> &mut BTreeMap<String, String> {
        match self
            .keys
            .entry(key)
            .or_insert_with(|| Value::Hash(BTreeMap::new()))
        {
            Value::Hash(h) => h,
            v => {
                *v = Value::Hash(BTreeMap::new());
                let Value::Hash(h) = v else { unreachable!() };
                h
            }
        }
    }

    fn set(&mut self, key: String) -> &mut BTreeSet<String> {
        match self
            .keys
            .entry(key)
            .or_insert_with(|| Value::Set(BTreeSet::new()))
        {
            Value::Set(s) => s,
            v => {
                *v = Value::Set(BTreeSet::new());
                let Value::Set(s) = v else { unreachable!() };
                s
            }
        }
    }

    /// The room's keys as they are in Redis now.
    pub async fn read_live(
        redis: &ConnectionManager,
        prefix: &str,
        room: RoomId,
    ) -> Result<Self, ProjectionError> {
        let mut conn = redis.clone();
        let names = scan_keys(&mut conn, &RoomKeys::new(prefix, room).pattern()).await?;
        let mut model = Self::default();
        for name in names {
            let kind: String = redis::cmd("TYPE").arg(&name).query_async(&mut conn).await?;
            let value = match kind.as_str() {
                "hash" => Value::Hash(conn.hgetall(&name).await?),
                "set" => Value::Set(conn.smembers(&name).await?),
                other => Value::Hash(BTreeMap::from([("(type)".to_string(), other.to_string())])),
            };
            model.keys.insert(name, value);
        }
        Ok(model)
    }

    /// Replaces the room's keys in Redis with this model, atomically.
    pub async fn write(
        &self,
        redis: &ConnectionManager,
        prefix: &str,
        room: RoomId,
    ) -> Result<(), ProjectionError> {
        let mut conn = redis.clone();
        let existing = scan_keys(&mut conn, &RoomKeys::new(prefix, room).pattern()).await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for k in &existing {
            pipe.del(k).ignore();
        }
        for (k, v) in &self.keys {
            match v {
                Value::Hash(h) if !h.is_empty() => {
                    let pairs: Vec<(&String, &String)> = h.iter().collect();
                    pipe.hset_multiple(k, &pairs).ignore();
                }
                Value::Set(s) if !s.is_empty() => {
                    let members: Vec<&String> = s.iter().collect();
                    pipe.sadd(k, members).ignore();
                }
                _ => {}
            }
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Every difference between `live` (self) and `rebuilt`.
    pub fn diff(&self, rebuilt: &RoomModel) -> Vec<Difference> {
        let mut out = Vec::new();
        let names: BTreeSet<&String> = self.keys.keys().chain(rebuilt.keys.keys()).collect();
        for name in names {
            match (self.keys.get(name), rebuilt.keys.get(name)) {
                (Some(Value::Hash(a)), Some(Value::Hash(b))) => {
                    let fields: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                    for f in fields {
                        if a.get(f) != b.get(f) {
                            out.push(Difference {
                                key: name.clone(),
                                field: Some(f.clone()),
                                live: a.get(f).cloned(),
                                rebuilt: b.get(f).cloned(),
                            });
                        }
                    }
                }
                (Some(Value::Set(a)), Some(Value::Set(b))) => {
                    for m in a.symmetric_difference(b) {
                        out.push(Difference {
                            key: name.clone(),
                            field: Some(format!("member {m}")),
                            live: a.contains(m).then(|| "present".into()),
                            rebuilt: b.contains(m).then(|| "present".into()),
                        });
                    }
                }
                (a, b) => out.push(Difference {
                    key: name.clone(),
                    field: None,
                    live: a.map(describe),
                    rebuilt: b.map(describe),
                }),
            }
        }
        out
    }

    /// The last sequence this model has applied.
    pub fn last_sequence(&self, prefix: &str, room: RoomId) -> u64 {
        match self.keys.get(&RoomKeys::new(prefix, room).room()) {
            Some(Value::Hash(h)) => h
                .get(field::LAST_SEQUENCE)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            _ => 0,
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Hash(h) => format!("hash of {} fields", h.len()),
        Value::Set(s) => format!("set of {} members", s.len()),
    }
}

async fn scan_keys(
    conn: &mut ConnectionManager,
    pattern: &str,
) -> Result<Vec<String>, ProjectionError> {
    let mut cursor: u64 = 0;
    let mut out = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        out.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    out.sort();
    out.dedup();
    Ok(out)
}
