//! Who may be in a room, decided by its host: a new invite link (the old ones
//! stop working), a revoked one, and removing a participant.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use chrono::Utc;
use zencast_eventlog::Origin;
use zencast_events::protocol::{ErrorBody, Invite, InviteRequest, Logged};
use zencast_events::{Envelope, RecordingCommand, RecordingEvent, RoomId};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ChunkPath, RoomPath};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/recordings/{room_id}/invite",
            post(renew_invite).delete(revoke_invite),
        )
        .route(
            "/api/recordings/{room_id}/participants/{participant_id}",
            delete(remove),
        )
}

/// The link a guest opens: `{public_url}/join/{roomId}?invite=…`.
pub fn invite_url(app: &AppState, room: RoomId, token: &str) -> String {
    format!(
        "{}/join/{room}?invite={token}",
        app.settings.public_url.trim_end_matches('/')
    )
}

#[utoipa::path(post, path = "/api/recordings/{roomId}/invite", tag = "people",
    params(("roomId" = String, Path, format = Uuid)), request_body = InviteRequest,
    security(("participant_token" = [])),
    responses((status = 201, body = Invite, description = "A new link; the earlier ones stop working"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The session is completed")))]
/// `POST /api/recordings/{roomId}/invite` (host): `InviteIssued`, a new guest
/// link, optionally for at most `maxJoins` new guests. Also undoes a revoke.
async fn renew_invite(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    caller: Caller,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<Invite>), ApiError> {
    let caller = caller.in_room(room)?;
    let ask = RecordingCommand::IssueInvite {
        by: caller.participant,
        max_joins: req.max_joins,
    };
    let appended = host_action(&app, room, caller, ask).await?;
    let issued = appended.iter().find_map(|e| match e.event() {
        Ok(RecordingEvent::InviteIssued {
            generation,
            max_joins,
        }) => Some((e.sequence, generation, max_joins)),
        _ => None,
    });
    let (sequence, generation, max_joins) =
        issued.ok_or_else(|| ApiError::Internal("IssueInvite appended no InviteIssued".into()))?;
    let invite_token = app.tokens.invite(room, generation, Utc::now());
    Ok((
        StatusCode::CREATED,
        Json(Invite {
            invite_url: invite_url(&app, room, &invite_token),
            invite_token,
            generation,
            max_joins,
            sequence,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/recordings/{roomId}/invite", tag = "people",
    params(("roomId" = String, Path, format = Uuid)), security(("participant_token" = [])),
    responses((status = 200, body = Logged, description = "Revoked (sequence 0: it already was)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The session is completed")))]
/// `DELETE /api/recordings/{roomId}/invite` (host): `InviteRevoked`; no link
/// admits anyone new until `POST …/invite` makes a new one.
async fn revoke_invite(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    caller: Caller,
) -> Result<Json<Logged>, ApiError> {
    let caller = caller.in_room(room)?;
    let ask = RecordingCommand::RevokeInvite {
        by: caller.participant,
    };
    let appended = host_action(&app, room, caller, ask).await?;
    Ok(Json(logged(&appended)))
}

#[utoipa::path(delete, path = "/api/recordings/{roomId}/participants/{participantId}", tag = "people",
    params(("roomId" = String, Path, format = Uuid), ("participantId" = String, Path, format = Uuid)),
    security(("participant_token" = [])),
    responses((status = 200, body = Logged, description = "Removed (sequence 0: it already was)"),
        (status = 400, body = ErrorBody, description = "The host cannot remove itself"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// `DELETE /api/recordings/{roomId}/participants/{participantId}` (host):
/// `ParticipantRemoved`. Its tokens stop working, its socket closes, its
/// uploads are refused; what it recorded stays in the recording.
async fn remove(
    State(app): State<AppState>,
    path: ChunkPath,
    caller: Caller,
) -> Result<Json<Logged>, ApiError> {
    let caller = caller.in_room(path.room)?;
    let ask = RecordingCommand::RemoveParticipant {
        by: caller.participant,
        participant: path.participant,
    };
    let appended = host_action(&app, path.room, caller, ask).await?;
    Ok(Json(logged(&appended)))
}

/// Runs a host's command as the caller (the aggregate refuses anyone else).
async fn host_action(
    app: &AppState,
    room: RoomId,
    caller: Caller,
    command: RecordingCommand,
) -> Result<Vec<Envelope>, ApiError> {
    let origin = Origin::now(caller.participant.to_string());
    Ok(app.log.execute(room, command, &origin).await?)
}

fn logged(appended: &[Envelope]) -> Logged {
    Logged {
        sequence: appended.last().map_or(0, |e| e.sequence),
    }
}
