//! Rooms: create one, read its live state, read its audit timeline.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use zencast_events::{Envelope, Layout, ParticipantId, RecordingCommand, Role, RoomId};
use zencast_nats::log::room_events;
use zencast_nats::Origin;
use zencast_projections::view::{read_room, RoomView};

use crate::error::ApiError;
use crate::extract::{ApiJson, RoomPath};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/recordings", post(create))
        .route("/api/recordings/{room_id}", get(show))
        .route("/api/recordings/{room_id}/events", get(events))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoom {
    pub title: String,
    #[serde(default)]
    pub layout: Layout,
    #[serde(default = "default_chunk_seconds")]
    pub chunk_seconds: u32,
    #[serde(default = "default_host_name")]
    pub host_name: String,
}

fn default_chunk_seconds() -> u32 {
    10
}
fn default_host_name() -> String {
    "Host".into()
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub room_id: RoomId,
    pub host_participant_id: ParticipantId,
    pub host_token: String,
    /// The sequence of the last event the creation appended.
    pub sequence: u64,
}

/// `POST /api/recordings`: appends `RoomCreated` (and the host's
/// `ParticipantJoined`) and returns the host's token.
async fn create(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateRoom>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let room = RoomId::new();
    let host = ParticipantId::new();
    let origin = Origin::now(host.to_string());
    let appended = app
        .log
        .execute(
            room,
            RecordingCommand::CreateRoom {
                title: req.title,
                host,
                host_name: req.host_name,
                layout: req.layout,
                chunk_seconds: req.chunk_seconds,
            },
            &origin,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            room_id: room,
            host_participant_id: host,
            host_token: app.tokens.issue(room, host, Role::Host, Utc::now()),
            sequence: appended.last().map_or(0, |e| e.sequence),
        }),
    ))
}

/// `GET /api/recordings/{roomId}`: the room's state from the Redis projection.
async fn show(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
) -> Result<Json<RoomView>, ApiError> {
    if let Some(view) = read_room(&app.redis, &app.prefix, room).await? {
        return Ok(Json(view));
    }
    // Not projected: either unknown, or created a moment ago and on its way.
    if room_events(&app.pool, room, 0, Some(1)).await?.is_empty() {
        Err(ApiError::NotFound(format!("room {room} does not exist")))
    } else {
        Err(ApiError::Unavailable(format!(
            "room {room} exists but its state is not projected yet; retry shortly"
        )))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub room_id: RoomId,
    pub events: Vec<Envelope>,
}

/// `GET /api/recordings/{roomId}/events`: the audit timeline, from Postgres.
async fn events(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
) -> Result<Json<Timeline>, ApiError> {
    let events = room_events(&app.pool, room, 0, None).await?;
    if events.is_empty() {
        return Err(ApiError::NotFound(format!("room {room} does not exist")));
    }
    Ok(Json(Timeline {
        room_id: room,
        events,
    }))
}
