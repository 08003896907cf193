//! `GET /api/recordings/{roomId}/ws?token=…`: a joined participant's live socket.

use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use zencast_events::Phase;

use crate::auth;
use crate::error::ApiError;
use crate::extract::{ApiQuery, RoomPath};
use crate::limits::SOCKETS_PER_PARTICIPANT;
use crate::presence;
use crate::session;
use crate::state::AppState;

/// `?token=`: a browser cannot give a WebSocket an `Authorization` header.
#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/recordings/{room_id}/ws", get(upgrade))
}

async fn upgrade(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    ApiQuery(query): ApiQuery<TokenQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let token = query
        .token
        .ok_or_else(|| ApiError::Unauthorized("missing ?token= (the participant token)".into()))?;
    let caller = auth::participant(&app, token.trim()).await?.in_room(room)?;
    let state = app
        .log
        .load(room)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("room {room} does not exist")))?;
    if !state.participants.contains_key(&caller.participant) {
        return Err(ApiError::Forbidden(
            "join the room before connecting".into(),
        ));
    }
    let live = presence::live_sockets(&app.redis, app.prefix(), room, caller.participant)
        .await
        .map_err(|e| ApiError::Unavailable("the room state", e.to_string()))?;
    if live >= SOCKETS_PER_PARTICIPANT {
        return Err(ApiError::TooMany(
            "too_many_sockets",
            format!("this participant already has {live} live sockets; close one first"),
        ));
    }
    if state.phase == Phase::Completed {
        return Err(ApiError::Conflict(
            "session_completed",
            "the session is completed".into(),
        ));
    }
    // Frames above our own limit get an error frame, not a dropped socket; only
    // far larger ones are refused by the protocol layer.
    Ok(ws
        .max_message_size(app.settings.ws_max_message * 16)
        .on_upgrade(move |socket| session::run(app, caller, socket)))
}
