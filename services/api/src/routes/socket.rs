//! `GET /api/recordings/{roomId}/ws?token=…`: a joined participant's live socket.

use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use zencast_events::Phase;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::RoomPath;
use crate::session;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/recordings/{room_id}/ws", get(upgrade))
}

async fn upgrade(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    caller: Caller,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let caller = caller.in_room(room)?;
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
