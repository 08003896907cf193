//! `POST /api/uploads/complete`: a participant has sent every chunk.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use zencast_eventlog::Origin;
use zencast_events::protocol::{Complete, Completed, ErrorBody};
use zencast_events::RecordingCommand;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/uploads/complete", post(complete))
}

#[utoipa::path(post, path = "/api/uploads/complete", request_body = Complete, tag = "chunks",
    security(("participant_token" = [])),
    responses((status = 200, body = Completed), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
/// Appends `ParticipantUploadsFinished` (and `SessionCompleted` when recording
/// has stopped and everyone has finished). Repeating it is a no-op. From one
/// who had not finished when the session completed (back to a closed tab's
/// recording), also `UploadsArrivedLate`, and the room renders again.
async fn complete(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<Complete>,
) -> Result<Json<Completed>, ApiError> {
    let caller = caller.in_room(req.room_id)?;
    if caller.participant != req.participant_id {
        return Err(ApiError::Forbidden(
            "a participant completes only its own uploads".into(),
        ));
    }
    let appended = app
        .log
        .execute(
            req.room_id,
            RecordingCommand::FinishUploads {
                participant: req.participant_id,
                chunk_count: req.chunk_count,
            },
            &Origin::now(req.participant_id.to_string()),
        )
        .await?;
    Ok(Json(Completed {
        session_completed: appended.iter().any(|e| e.event_type == "SessionCompleted"),
        sequence: appended.last().map_or(0, |e| e.sequence),
    }))
}
