//! For operators: health and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use zencast_eventlog::outbox;
use zencast_runtime::metrics::Readings;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// `GET /healthz`: 200 when Postgres, Redis and NATS all answer, else 503 with
/// the failing checks named.
async fn healthz(State(app): State<AppState>) -> impl IntoResponse {
    let postgres = sqlx::query("SELECT 1").execute(&app.pool).await.is_ok();
    let mut conn = app.redis.clone();
    let redis = redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok();
    let nats = app.nats.connection_state() == async_nats::connection::State::Connected;
    let ok = postgres && redis && nats;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ok { "ok" } else { "degraded" },
            "checks": { "postgres": postgres, "redis": redis, "nats": nats },
        })),
    )
}

/// `GET /metrics`: this process's counters plus the relay lag, read from the
/// outbox so it is right whichever process runs the relay.
async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let mut readings = Readings::default();
    if let Ok((pending, age)) = outbox::lag(&app.pool).await {
        readings.count(
            "zencast_relay_lag_events",
            "Events in the log not yet published to JetStream",
            pending,
        );
        readings.seconds(
            "zencast_relay_lag_seconds",
            "Age of the oldest unpublished event",
            age,
        );
    }
    // Per room, for the rooms waiting longest (bounded: a label per room).
    if let Ok(rooms) = outbox::room_lag(&app.pool, 20).await {
        let (ages, counts): (Vec<_>, Vec<_>) = rooms
            .into_iter()
            .map(|(room, pending, age)| ((room.clone(), age), (room, pending)))
            .unzip();
        readings.seconds_by(
            "zencast_relay_room_lag_seconds",
            "Age of a room's oldest unpublished event (the 20 rooms waiting longest)",
            "room",
            &ages,
        );
        readings.counts_by(
            "zencast_relay_room_lag_events",
            "Events of a room not yet published (the 20 rooms waiting longest)",
            "room",
            &counts,
        );
    }
    let text = app.metrics.render(&readings);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
