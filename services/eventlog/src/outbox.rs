//! The outbox relay: publishes every event of the Postgres log to JetStream,
//! at least once, in per-room order, then marks it published by deleting its
//! outbox row (the outbox holds only the backlog; the log is the record).
//!
//! - One relay is active at a time (a Postgres advisory lock); others wait as
//!   standbys and take over when its connection drops.
//! - It reads *unpublished rows*, never "rows after the last id seen": ids are
//!   handed out before commit, so such a cursor can skip a late committer.
//! - `Nats-Msg-Id` is the event id, so a re-publish after a crash between
//!   publish and mark falls in JetStream's duplicate window and is dropped;
//!   consumers ignore it by sequence anyway.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use async_nats::jetstream;
use async_nats::HeaderMap;
use bytes::Bytes;
use sqlx::{Connection, PgConnection, PgPool};
use zencast_events::{Envelope, Recording, RoomId};

use crate::failpoint;
use crate::repository::EventRow;
use zencast_nats::Subjects;
use zencast_runtime::Metrics;
use zencast_runtime::{supervise, Shutdown};

pub const HEADER_EVENT_TYPE: &str = "Zencast-Event-Type";
pub const HEADER_SEQUENCE: &str = "Zencast-Sequence";
pub const HEADER_ROOM: &str = "Zencast-Room";

/// Advisory lock key of the active relay ("zencast relay" in ASCII).
const RELAY_LOCK: i64 = 0x7a65_6e63_6173_7472;
const BATCH: i64 = 512;
/// Polling interval when idle. Appends in this process wake the relay at once;
/// appends by other processes (other api nodes) are seen within this delay.
const POLL: Duration = Duration::from_millis(50);
/// How often the leader checks that its lock connection is alive.
const LOCK_CHECK: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("postgres: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored event is unreadable: {0}")]
    Envelope(#[from] zencast_events::EnvelopeError),
    #[error("account events: {0}")]
    Hosts(String),
}

pub struct Relay {
    pool: PgPool,
    database_url: String,
    js: jetstream::Context,
    subjects: Subjects,
    metrics: Arc<Metrics>,
    appended: Arc<Notify>,
}

/// Events waiting for the relay: how many, and the age of the oldest (seconds).
pub async fn lag(pool: &PgPool) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) AS n,
                COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0) AS age
           FROM outbox",
    )
    .fetch_one(pool)
    .await
}

/// The rooms waiting longest for the relay: (room, events waiting, age of the
/// oldest in seconds), at most `limit`, oldest first.
pub async fn room_lag(pool: &PgPool, limit: i64) -> Result<Vec<(String, i64, f64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT aggregate_id, count(*) AS n,
                EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS age
           FROM outbox GROUP BY aggregate_id ORDER BY min(created_at) LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

impl Relay {
    pub fn new(
        pool: PgPool,
        database_url: String,
        js: jetstream::Context,
        subjects: Subjects,
        metrics: Arc<Metrics>,
        appended: Arc<Notify>,
    ) -> Self {
        Self {
            pool,
            database_url,
            js,
            subjects,
            metrics,
            appended,
        }
    }

    /// Runs until shutdown, surviving database and NATS outages.
    pub async fn run(self, shutdown: Shutdown) {
        supervise("outbox relay", shutdown.clone(), || {
            self.lead(shutdown.clone())
        })
        .await
    }

    /// Takes the leader lock, then drains the outbox until shutdown or error.
    async fn lead(&self, mut shutdown: Shutdown) -> Result<(), RelayError> {
        // A dedicated connection, outside the pool: the session-level advisory
        // lock lives exactly as long as this connection.
        let mut lock_conn = PgConnection::connect(&self.database_url).await?;
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(RELAY_LOCK)
                .fetch_one(&mut lock_conn)
                .await?;
            if got {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.wait() => return Ok(()),
            }
        }
        tracing::info!("outbox relay active");
        let mut lock_checked = tokio::time::Instant::now();
        loop {
            let drained = self.drain_once().await?;
            crate::hosts::relay_once(&self.pool, &self.js, &self.subjects)
                .await
                .map_err(|e| RelayError::Hosts(e.to_string()))?;
            if lock_checked.elapsed() > LOCK_CHECK {
                // If the lock connection died, so did our lock: stop leading.
                sqlx::query("SELECT 1").execute(&mut lock_conn).await?;
                lock_checked = tokio::time::Instant::now();
            }
            if drained as i64 >= BATCH {
                continue;
            }
            tokio::select! {
                _ = self.appended.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.wait() => return Ok(()),
            }
        }
    }

    /// Publishes one batch of unpublished events; returns how many were read.
    pub async fn drain_once(&self) -> Result<usize, RelayError> {
        // The batch is picked from the outbox first, then joined to the log by
        // primary key: the join never scans the log. Fair under a backlog: it
        // takes every waiting room's first event, then every room's second,
        // and so on (rooms waiting longest first within a turn), so each room
        // makes progress on every pass, and one room alone gets the whole
        // batch. Each room's part is a prefix of its backlog, in order.
        let rows = sqlx::query_as::<_, EventRow>(
            "WITH ranked AS (
                 SELECT aggregate_type, aggregate_id, sequence,
                        row_number() OVER (PARTITION BY aggregate_id ORDER BY sequence) AS turn,
                        min(created_at) OVER (PARTITION BY aggregate_id) AS waiting_since
                   FROM outbox
                  WHERE aggregate_type = $1),
             batch AS (
                 SELECT aggregate_type, aggregate_id, sequence FROM ranked
                  ORDER BY turn, waiting_since, aggregate_id
                  LIMIT $2)
             SELECT b.aggregate_id, b.sequence, e.event_type, e.event_version, e.payload, e.metadata
               FROM batch b
               JOIN events e USING (aggregate_type, aggregate_id, sequence)
              ORDER BY b.aggregate_id, b.sequence",
        )
        .bind(<Recording as cqrs_es::Aggregate>::TYPE)
        .bind(BATCH)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut envelopes = Vec::with_capacity(rows.len());
        let read = rows.len();
        for row in rows {
            let room = row.room().map_err(|e| {
                sqlx::Error::Decode(format!("outbox row with bad room id: {e}").into())
            })?;
            envelopes.push(row.envelope(room)?);
        }

        failpoint::hit(failpoint::RELAY_BEFORE_PUBLISH);

        let acks = publish(&self.js, &self.subjects, &envelopes).await;
        // A room whose publish failed keeps its later events unmarked too, so
        // they are all sent again, in order, on the next pass.
        let mut failed_from: HashMap<RoomId, u64> = HashMap::new();
        let mut published = Vec::with_capacity(envelopes.len());
        for (env, acked) in envelopes.iter().zip(acks) {
            match acked {
                Ok(_) if !failed_from.contains_key(&env.room_id) => published.push(env),
                Ok(_) => {}
                Err(e) => {
                    self.metrics.publish_failures.inc();
                    tracing::warn!(room = %env.room_id, sequence = env.sequence, error = %e, "publish failed; will retry");
                    failed_from.entry(env.room_id).or_insert(env.sequence);
                }
            }
        }

        failpoint::hit(failpoint::RELAY_AFTER_PUBLISH);

        let ids: Vec<String> = published.iter().map(|e| e.room_id.to_string()).collect();
        let seqs: Vec<i64> = published.iter().map(|e| e.sequence as i64).collect();
        sqlx::query(
            "DELETE FROM outbox o
              USING unnest($2::text[], $3::bigint[]) AS p(aggregate_id, sequence)
              WHERE o.aggregate_type = $1
                AND o.aggregate_id = p.aggregate_id AND o.sequence = p.sequence",
        )
        .bind(<Recording as cqrs_es::Aggregate>::TYPE)
        .bind(&ids)
        .bind(&seqs)
        .execute(&self.pool)
        .await?;
        self.metrics.events_published.inc_by(published.len() as u64);
        if !failed_from.is_empty() {
            // Give NATS a moment before the next pass re-sends.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(read)
    }
}

/// Publishes `envelopes` to their subjects with `Nats-Msg-Id` = event id, the
/// whole batch first and then the acks: one round trip per batch, not per
/// event. Messages of one room go out in order on one connection. Returns each
/// one's ack (whose `duplicate` says JetStream already had it) or error, in order.
pub async fn publish(
    js: &jetstream::Context,
    subjects: &Subjects,
    envelopes: &[Envelope],
) -> Vec<Result<jetstream::publish::PublishAck, String>> {
    let mut pending = Vec::with_capacity(envelopes.len());
    for env in envelopes {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", env.event_id.to_string().as_str());
        headers.insert(HEADER_EVENT_TYPE, env.event_type.as_str());
        headers.insert(HEADER_SEQUENCE, env.sequence.to_string().as_str());
        headers.insert(HEADER_ROOM, env.room_id.to_string().as_str());
        let body = Bytes::from(serde_json::to_vec(env).expect("envelopes serialize"));
        let subject = subjects.event(env.room_id, &env.event_type);
        pending.push(js.publish_with_headers(subject, headers, body).await);
    }
    let mut acks = Vec::with_capacity(pending.len());
    for sent in pending {
        acks.push(match sent {
            Ok(ack) => ack.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        });
    }
    acks
}
