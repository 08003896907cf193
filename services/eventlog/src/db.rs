//! Connecting to Postgres: the database is created if missing, then migrated.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("bad DATABASE_URL: {0}")]
    Url(sqlx::Error),
    #[error("cannot reach Postgres at {0}: {1}")]
    Connect(String, sqlx::Error),
    #[error("cannot create database {0}: {1}")]
    Create(String, sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Creates the database named in `url` when it does not exist yet (on a fresh
/// machine `zencast up` should just work).
pub async fn create_database_if_missing(url: &str) -> Result<(), DbError> {
    let opts = PgConnectOptions::from_str(url).map_err(DbError::Url)?;
    let name = opts.get_database().unwrap_or("postgres").to_string();
    let admin = opts.clone().database("postgres");
    let mut conn = admin
        .connect()
        .await
        .map_err(|e| DbError::Connect(url.to_string(), e))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| DbError::Connect(url.to_string(), e))?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut conn)
            .await
        {
            // Someone else created it between our check and our CREATE.
            let raced =
                matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42P04"));
            if !raced {
                return Err(DbError::Create(name, e));
            }
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// A pool on `url`, with the database created and migrated.
pub async fn connect_and_migrate(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    create_database_if_missing(url).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|e| DbError::Connect(url.to_string(), e))?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
