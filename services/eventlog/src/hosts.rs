//! Host accounts in the log (aggregate type `Host`): add, sign out, remove,
//! find by e-mail, list; the rooms a host created; and the relay of account
//! events to JetStream (`{prefix}.hosts.{id}.{EventType}`, hashes left out).
//!
//! Accounts change rarely, so appends take a transaction-scoped advisory lock
//! instead of the rooms' cache and retry loop: that also makes "this e-mail
//! has no account yet" and "no account exists yet" (the first-run set-up)
//! checks that two api nodes cannot both pass.

use std::collections::HashMap;

use async_nats::jetstream;
use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;
use zencast_events::envelope::{META_ACTOR, META_OCCURRED_AT};
use zencast_events::host::{Host, HostError, HostEvent, HOST_TYPE};
use zencast_events::{HostId, RoomId};
use zencast_nats::Subjects;

/// Advisory lock key of account changes ("zc hosts" in ASCII).
const HOSTS_LOCK: i64 = 0x7a63_2068_6f73_7473;

/// Namespace of account event ids (UUID v5 of `host/{id}/{sequence}`).
const HOST_EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x3d2c_5e7f_91a4_4b08_8c6d_1f2e_3a4b_5c6d);

#[derive(Debug, thiserror::Error)]
pub enum HostLogError {
    #[error(transparent)]
    Rejected(#[from] HostError),
    #[error("a host account already exists: the first-run link works only once")]
    AlreadySetUp,
    #[error("event log unavailable: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored account event is unreadable: {0}")]
    Unreadable(String),
}

/// Who changed an account, for the event's metadata.
pub enum Actor {
    /// The operator's console (`zencast hosts …`).
    Console,
    /// The first-run set-up page.
    Setup,
    Host(HostId),
}

impl Actor {
    fn name(&self) -> String {
        match self {
            Actor::Console => "console".into(),
            Actor::Setup => "setup".into(),
            Actor::Host(id) => format!("host:{id}"),
        }
    }
}

pub fn host_event_id(host: HostId, sequence: u64) -> Uuid {
    Uuid::new_v5(
        &HOST_EVENT_NAMESPACE,
        format!("host/{host}/{sequence}").as_bytes(),
    )
}

/// Adds an account. With `first_only`, only while no account is active (the
/// one-time set-up link).
pub async fn add(
    pool: &PgPool,
    id: HostId,
    added: HostEvent,
    first_only: bool,
    actor: Actor,
) -> Result<HostId, HostLogError> {
    let HostEvent::HostAdded { email, .. } = &added else {
        unreachable!("add takes a HostAdded");
    };
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(HOSTS_LOCK)
        .execute(&mut *tx)
        .await?;
    let hosts = list_with(&mut tx).await?;
    if first_only && hosts.iter().any(|(_, h)| h.active()) {
        return Err(HostLogError::AlreadySetUp);
    }
    if hosts.iter().any(|(_, h)| h.active() && h.email == *email) {
        return Err(HostError::EmailTaken(email.clone()).into());
    }
    insert(&mut *tx, id, 1, &added, &actor).await?;
    tx.commit().await?;
    Ok(id)
}

/// Appends `event` to an existing, active account.
pub async fn append(
    pool: &PgPool,
    id: HostId,
    event: HostEvent,
    actor: Actor,
) -> Result<(), HostLogError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(HOSTS_LOCK)
        .execute(&mut *tx)
        .await?;
    let (host, sequence) = fold(&mut *tx, id).await?;
    if !host.active() {
        return Err(HostError::NotFound.into());
    }
    insert(&mut *tx, id, sequence + 1, &event, &actor).await?;
    tx.commit().await?;
    Ok(())
}

/// The account, if it was ever added (removed ones too: see `Host::active`).
pub async fn load(pool: &PgPool, id: HostId) -> Result<Option<Host>, HostLogError> {
    let (host, _) = fold(pool, id).await?;
    Ok(host.added.then_some(host))
}

/// The active account with this (normalised) e-mail address.
pub async fn find_by_email(
    pool: &PgPool,
    email: &str,
) -> Result<Option<(HostId, Host)>, HostLogError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM events
          WHERE event_type = 'HostAdded' AND payload -> 'HostAdded' ->> 'email' = $1",
    )
    .bind(email)
    .fetch_all(pool)
    .await?;
    for id in ids {
        let id = parse_id(&id)?;
        if let Some(host) = load(pool, id).await?.filter(Host::active) {
            return Ok(Some((id, host)));
        }
    }
    Ok(None)
}

/// Every account ever added, oldest first.
pub async fn list(pool: &PgPool) -> Result<Vec<(HostId, Host)>, HostLogError> {
    let mut conn = pool.acquire().await?;
    list_with(&mut conn).await
}

async fn list_with(conn: &mut sqlx::PgConnection) -> Result<Vec<(HostId, Host)>, HostLogError> {
    let rows: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT aggregate_id, event_type, payload FROM events
          WHERE aggregate_type = $1 ORDER BY recorded_at, aggregate_id, sequence",
    )
    .bind(HOST_TYPE)
    .fetch_all(&mut *conn)
    .await?;
    let mut order = Vec::new();
    let mut hosts: HashMap<HostId, Host> = HashMap::new();
    for (id, _, payload) in rows {
        let id = parse_id(&id)?;
        let host = hosts.entry(id).or_insert_with(|| {
            order.push(id);
            Host::default()
        });
        host.apply(decode(payload)?);
    }
    Ok(order
        .into_iter()
        .map(|id| (id, hosts.remove(&id).unwrap_or_default()))
        .collect())
}

/// Whether any account is active (if not, the first-run link is offered).
pub async fn any_active(pool: &PgPool) -> Result<bool, HostLogError> {
    Ok(list(pool).await?.iter().any(|(_, h)| h.active()))
}

/// The rooms `host` created and has not deleted, newest first.
pub async fn rooms_of(pool: &PgPool, host: HostId) -> Result<Vec<RoomId>, HostLogError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT c.aggregate_id FROM events c
          WHERE c.event_type = 'RoomCreated' AND c.payload -> 'RoomCreated' ->> 'owner' = $1
            AND NOT EXISTS (SELECT 1 FROM events d
                             WHERE d.aggregate_id = c.aggregate_id
                               AND d.event_type IN ('RecordingDeleted', 'RecordingSwept'))
          ORDER BY c.recorded_at DESC",
    )
    .bind(host.to_string())
    .fetch_all(pool)
    .await?;
    ids.into_iter()
        .map(|id| RoomId::parse(&id).map_err(|e| HostLogError::Unreadable(e.to_string())))
        .collect()
}

/// The bytes of every chunk stored in `host`'s rooms that are not deleted.
pub async fn stored_bytes(pool: &PgPool, host: HostId) -> Result<u64, HostLogError> {
    let total: Option<i64> = sqlx::query_scalar(
        "SELECT sum((e.payload -> 'ChunkUploaded' ->> 'size')::bigint)::bigint FROM events e
          WHERE e.aggregate_type = 'Recording' AND e.event_type = 'ChunkUploaded'
            AND e.aggregate_id IN (
                SELECT c.aggregate_id FROM events c
                 WHERE c.event_type = 'RoomCreated'
                   AND c.payload -> 'RoomCreated' ->> 'owner' = $1
                   AND NOT EXISTS (SELECT 1 FROM events d
                                    WHERE d.aggregate_id = c.aggregate_id
                                      AND d.event_type IN ('RecordingDeleted', 'RecordingSwept')))",
    )
    .bind(host.to_string())
    .fetch_one(pool)
    .await?;
    Ok(total.unwrap_or(0).max(0) as u64)
}

async fn fold<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    id: HostId,
) -> Result<(Host, u64), HostLogError> {
    let rows: Vec<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, payload FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(HOST_TYPE)
    .bind(id.to_string())
    .fetch_all(executor)
    .await?;
    let mut host = Host::default();
    let mut last = 0;
    for (sequence, payload) in rows {
        host.apply(decode(payload)?);
        last = sequence as u64;
    }
    Ok((host, last))
}

async fn insert<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    id: HostId,
    sequence: u64,
    event: &HostEvent,
    actor: &Actor,
) -> Result<(), HostLogError> {
    let metadata = HashMap::from([
        (META_ACTOR, actor.name()),
        (META_OCCURRED_AT, Utc::now().to_rfc3339()),
    ]);
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                             event_version, payload, metadata, event_id)
         VALUES ($1, $2, $3, $4, '1', $5, $6, $7)",
    )
    .bind(HOST_TYPE)
    .bind(id.to_string())
    .bind(sequence as i64)
    .bind(event.type_name())
    .bind(serde_json::to_value(event).expect("account events serialise"))
    .bind(serde_json::to_value(&metadata).expect("a string map serialises"))
    .bind(host_event_id(id, sequence))
    .execute(executor)
    .await?;
    Ok(())
}

fn decode(payload: serde_json::Value) -> Result<HostEvent, HostLogError> {
    serde_json::from_value(payload).map_err(|e| HostLogError::Unreadable(e.to_string()))
}

fn parse_id(id: &str) -> Result<HostId, HostLogError> {
    HostId::parse(id).map_err(|e| HostLogError::Unreadable(e.to_string()))
}

/// An account event as JetStream carries it: no password or key hash.
#[derive(Debug, Serialize)]
struct PublishedHostEvent {
    event_id: Uuid,
    host_id: HostId,
    sequence: u64,
    event_type: String,
    occurred_at: Option<DateTime<Utc>>,
    actor: Option<String>,
    payload: serde_json::Value,
}

/// Publishes the account events waiting in the outbox, then deletes their
/// rows (at least once; `Nats-Msg-Id` de-duplicates). Returns how many.
pub async fn relay_once(
    pool: &PgPool,
    js: &jetstream::Context,
    subjects: &Subjects,
) -> Result<usize, HostLogError> {
    let rows: Vec<(String, i64, serde_json::Value, serde_json::Value)> = sqlx::query_as(
        "SELECT o.aggregate_id, o.sequence, e.payload, e.metadata
           FROM outbox o JOIN events e USING (aggregate_type, aggregate_id, sequence)
          WHERE o.aggregate_type = $1
          ORDER BY o.aggregate_id, o.sequence LIMIT 100",
    )
    .bind(HOST_TYPE)
    .fetch_all(pool)
    .await?;
    let mut published = 0;
    for (id, sequence, payload, metadata) in rows {
        let host = parse_id(&id)?;
        let event = decode(payload)?;
        let meta = crate::repository::metadata_map(&metadata);
        let body = PublishedHostEvent {
            event_id: host_event_id(host, sequence as u64),
            host_id: host,
            sequence: sequence as u64,
            event_type: event.type_name().to_string(),
            occurred_at: meta
                .get(META_OCCURRED_AT)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            actor: meta.get(META_ACTOR).cloned(),
            payload: event.public_payload(),
        };
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", body.event_id.to_string().as_str());
        let sent = js
            .publish_with_headers(
                subjects.host_event(host, event.type_name()),
                headers,
                Bytes::from(serde_json::to_vec(&body).expect("serialises")),
            )
            .await;
        let acked = match sent {
            Ok(ack) => ack.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = acked {
            // The row stays; the next pass sends it again, in order.
            tracing::warn!(%host, sequence, error = %e, "account event publish failed; will retry");
            break;
        }
        sqlx::query(
            "DELETE FROM outbox WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
        )
        .bind(HOST_TYPE)
        .bind(&id)
        .bind(sequence)
        .execute(pool)
        .await?;
        published += 1;
    }
    Ok(published)
}
