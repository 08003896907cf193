//! Connections to the four engines every part needs, made once per process.

use std::sync::Arc;

use anyhow::Context;
use async_nats::jetstream;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use zencast_eventlog::db;
use zencast_nats::{servers, stream, Subjects};
use zencast_runtime::Metrics;

use crate::config::Config;

#[derive(Clone)]
pub struct Backends {
    pub config: Config,
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub stream: jetstream::stream::Stream,
    /// The work queue of window jobs.
    pub jobs: jetstream::stream::Stream,
    pub subjects: Subjects,
    pub metrics: Arc<Metrics>,
}

impl Backends {
    /// Connects, migrates the database and ensures the stream exists.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let subjects = Subjects::new(&config.prefix)?;
        let pool = db::connect_and_migrate(&config.database_url, 16).await?;
        let redis = redis::Client::open(config.redis_url.as_str())
            .with_context(|| format!("bad REDIS_URL {}", config.redis_url))?;
        let redis = ConnectionManager::new(redis)
            .await
            .with_context(|| format!("cannot reach Redis at {}", config.redis_url))?;
        let nats = servers::connect(&config.nats_url).await?;
        let js = jetstream::new(nats.clone());
        let replicas = config.nats_replicas;
        let stream = patiently(|| stream::ensure_stream(&js, &subjects, replicas)).await?;
        // Window jobs (render workers publish and take them).
        let jobs = patiently(|| stream::ensure_jobs_stream(&js, &subjects, replicas)).await?;
        Ok(Self {
            config: config.clone(),
            pool,
            redis,
            nats,
            js,
            stream,
            jobs,
            subjects,
            metrics: Arc::new(Metrics::default()),
        })
    }
}

/// Runs a stream request until it succeeds, for up to a minute. JetStream
/// answers only once the stream has a leader: on a new cluster, or with every
/// process of a deployment starting at once and creating a replicated stream,
/// the first requests time out, and giving up on them would stop the process.
async fn patiently<T, F, Fut>(request: F) -> Result<T, stream::StreamError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, stream::StreamError>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match request().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "JetStream not ready; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
