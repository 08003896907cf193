//! `zencast bench …`: benchmarks that print figures, each next to a raw
//! baseline measured in the same run (these machines are noisy).
//!
//! Every benchmark works in a scratch deployment: its own database, stream,
//! subject and key prefix, removed at the end.

pub mod events;
pub mod progressive;
pub mod relay;
pub mod render;
pub mod uploads;

use std::time::Duration;

use crate::config::with_database;
use crate::{Backends, Config};

/// A throwaway deployment on the configured servers.
pub struct Scratch {
    pub base: Config,
    pub config: Config,
    pub backends: Backends,
}

impl Scratch {
    pub async fn new(base: &Config) -> anyhow::Result<Self> {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let mut config = base.clone();
        config.prefix = format!("bench_{tag}");
        config.database_url = with_database(&base.database_url, &format!("zencast_bench_{tag}"));
        config.http_addr = "127.0.0.1:0".parse()?;
        config.data_dir = std::env::temp_dir().join(format!("zencast_bench_{tag}"));
        config.s3_listen = "127.0.0.1:0".parse()?;
        config.s3_bucket = format!("zencast-bench-{tag}");
        // The benches create rooms without accounts.
        config.auth = "open".into();
        let backends = Backends::connect(&config).await?;
        Ok(Self {
            base: base.clone(),
            config,
            backends,
        })
    }

    pub async fn remove(self) {
        let b = &self.backends;
        let _ = b.js.delete_stream(b.subjects.stream()).await;
        let mut redis = b.redis.clone();
        let pattern = format!("{}:*", b.subjects.prefix());
        if let Ok(keys) = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async::<Vec<String>>(&mut redis)
            .await
        {
            if !keys.is_empty() {
                let _ = redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<()>(&mut redis)
                    .await;
            }
        }
        b.pool.close().await;
        let name = format!("zencast_bench_{}", &b.subjects.prefix()["bench_".len()..]);
        if let Ok(pool) =
            sqlx::PgPool::connect(&with_database(&self.base.database_url, "postgres")).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&pool)
                .await;
        }
        let _ = std::fs::remove_dir_all(&self.config.data_dir);
    }
}

/// The `p`th percentile of `v`, in milliseconds.
pub fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i].as_secs_f64() * 1000.0
}
