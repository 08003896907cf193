//! Rooms: create one, read its live state, read its audit timeline.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use zencast_eventlog::log::room_events;
use zencast_eventlog::Origin;
use zencast_events::protocol::{
    AuthMode, Control, CreateRoom, Created, ErrorBody, JoinRequest, Joined, RoomStatus, RoomView,
    Timeline,
};
use zencast_events::{ParticipantId, RecordingCommand, Role, RoomId};
use zencast_projections::fresh::read_fresh;
use zencast_projections::RoomState;

use crate::accounts::signed_in;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::extract::{ApiJson, RoomPath};
use crate::quotas;
use crate::routes::{people, renders};
use crate::state::AppState;
use crate::sweep;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/recordings", post(create))
        .route(
            "/api/recordings/{room_id}",
            get(show).delete(delete_recording),
        )
        .route("/api/recordings/{room_id}/events", get(events))
        .route("/api/recordings/{room_id}/join", post(join))
        .route("/api/recordings/{room_id}/start", post(start))
        .route("/api/recordings/{room_id}/stop", post(stop))
}

#[utoipa::path(post, path = "/api/recordings", request_body = CreateRoom, tag = "rooms",
    security((), ("host_sign_in" = []), ("participant_token" = [])),
    responses((status = 201, body = Created), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody, description = "With accounts (`ZENCAST_AUTH=accounts`): no signed-in host or API key"),
        (status = 403, body = ErrorBody, description = "`quota_rooms`: the host keeps as many recordings as it may")))]
/// `POST /api/recordings`: appends `RoomCreated` (and the host's
/// `ParticipantJoined`) and returns the host's token. With accounts, only a
/// signed-in host (cookie or API key) creates rooms, and the room is its own.
async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateRoom>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let owner = match (signed_in(&app, &headers).await?, app.settings.auth) {
        (Some(host), _) => {
            quotas::check_new_room(&app, host.id).await?;
            Some(host.id)
        }
        (None, AuthMode::Open) => None,
        (None, AuthMode::Accounts) => {
            return Err(ApiError::Unauthorized(
                "sign in as a host (or send its API key) to create sessions".into(),
            ))
        }
    };
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
                max_participants: app.settings.max_participants,
                owner,
            },
            &origin,
        )
        .await?;
    let invite_token = app.tokens.invite(room, 0, Utc::now());
    Ok((
        StatusCode::CREATED,
        Json(Created {
            room_id: room,
            host_participant_id: host,
            host_token: app.tokens.issue(room, host, Role::Host, Utc::now()),
            invite_url: people::invite_url(&app, room, &invite_token),
            invite_token,
            sequence: appended.last().map_or(0, |e| e.sequence),
        }),
    ))
}

#[utoipa::path(post, path = "/api/recordings/{roomId}/join", request_body = JoinRequest, tag = "rooms",
    params(("roomId" = String, Path, format = Uuid)),
    responses((status = 200, body = Joined), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
/// `POST /api/recordings/{roomId}/join`: with an invite, a new guest joins;
/// with a participant token, the same participant comes back (no new
/// participant, and no event at all if it never left).
async fn join(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    ApiJson(req): ApiJson<JoinRequest>,
) -> Result<Json<Joined>, ApiError> {
    let (participant, role, invite) = match (&req.participant_token, &req.invite_token) {
        (Some(token), _) => {
            let caller = auth::participant(&app, token).await?.in_room(room)?;
            (caller.participant, caller.role, None)
        }
        (None, Some(invite)) => {
            let claims = app
                .tokens
                .verify(invite, Utc::now())
                .map_err(auth::token_error)?;
            if claims.room != room {
                return Err(ApiError::Forbidden(
                    "this invite is for another room".into(),
                ));
            }
            (ParticipantId::new(), Role::Guest, Some(claims.generation))
        }
        (None, None) => {
            return Err(ApiError::Unauthorized(
                "an inviteToken or a participantToken is needed to join".into(),
            ))
        }
    };
    app.log
        .execute(
            room,
            RecordingCommand::Join {
                participant,
                display_name: req.display_name,
                role,
                invite,
            },
            &Origin::now(participant.to_string()),
        )
        .await?;
    Ok(Json(Joined {
        room_id: room,
        participant_id: participant,
        participant_token: app.tokens.issue(room, participant, role, Utc::now()),
        role,
    }))
}

#[utoipa::path(post, path = "/api/recordings/{roomId}/start", tag = "rooms",
    params(("roomId" = String, Path, format = Uuid)), security(("participant_token" = [])),
    responses((status = 200, body = Control), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
/// `POST /api/recordings/{roomId}/start` (host only): `RecordingStarted`.
async fn start(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    caller: Caller,
) -> Result<Json<Control>, ApiError> {
    control(&app, room, caller, RoomStatus::Recording, |by, at| {
        RecordingCommand::StartRecording { by, at }
    })
    .await
}

#[utoipa::path(post, path = "/api/recordings/{roomId}/stop", tag = "rooms",
    params(("roomId" = String, Path, format = Uuid)), security(("participant_token" = [])),
    responses((status = 200, body = Control), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
/// `POST /api/recordings/{roomId}/stop` (host only): `RecordingStopped`.
async fn stop(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    caller: Caller,
) -> Result<Json<Control>, ApiError> {
    control(&app, room, caller, RoomStatus::Stopped, |by, at| {
        RecordingCommand::StopRecording { by, at }
    })
    .await
}

/// A host control: the command made by `command` from the caller and the
/// server time (the aggregate refuses anyone but the host).
async fn control(
    app: &AppState,
    room: RoomId,
    caller: Caller,
    status: RoomStatus,
    command: impl FnOnce(ParticipantId, chrono::DateTime<Utc>) -> RecordingCommand,
) -> Result<Json<Control>, ApiError> {
    let caller = caller.in_room(room)?;
    let origin = Origin::now(caller.participant.to_string());
    let cmd = command(caller.participant, origin.at);
    let appended = app.log.execute(room, cmd, &origin).await?;
    Ok(Json(Control {
        status,
        at: origin.at,
        sequence: appended.last().map_or(0, |e| e.sequence),
    }))
}

#[utoipa::path(get, path = "/api/recordings/{roomId}", tag = "rooms",
    params(("roomId" = String, Path, format = Uuid)), security(("participant_token" = [])),
    responses((status = 200, body = RoomView, description = "The room's state from the Redis projection"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
/// `GET /api/recordings/{roomId}` (participants of the room): the room's state
/// from the Redis projection, brought up to the log first if it lags (503 only
/// when a backend is down). File URLs are download links signed for a few minutes.
async fn show(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    headers: HeaderMap,
) -> Result<Json<RoomView>, ApiError> {
    auth::room_access(&app, &headers, room).await?;
    let state = RoomState::new(app.redis.clone(), app.prefix());
    // As of the log now: a read right after a command sees it, whatever the
    // projector's lag (or a Redis that lost the room).
    match read_fresh(&app.pool, &state, room).await? {
        Some(mut view) => {
            if view.status == RoomStatus::Deleted {
                // Swept from the store, or about to be.
                view.render.files.clear();
            }
            renders::sign_links(&app, room, &mut view.render.files);
            Ok(Json(view))
        }
        None => Err(ApiError::NotFound(format!("room {room} does not exist"))),
    }
}

#[utoipa::path(delete, path = "/api/recordings/{roomId}", tag = "rooms",
    params(("roomId" = String, Path, format = Uuid)), security(("participant_token" = []), ("host_sign_in" = [])),
    responses((status = 204, description = "Deleted: the files go from storage, the log keeps the fact"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`still_recording`: stop first")))]
/// `DELETE /api/recordings/{roomId}` (the host, or the account that created
/// it): `RecordingDeleted`, then every object of the room is removed from
/// storage (`RecordingSwept`). Deleting twice is the same as once.
async fn delete_recording(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let host = auth::room_host(&app, &headers, room).await?;
    let deleted = app
        .log
        .execute(
            room,
            RecordingCommand::DeleteRecording,
            &Origin::now(host.actor),
        )
        .await?;
    if !deleted.is_empty() {
        // At once; the sweeper's scan re-drives it if this one fails.
        let (log, store) = (app.log.clone(), app.chunks.clone());
        tokio::spawn(async move {
            if let Err(e) = sweep::sweep_room(&log, &store, room).await {
                tracing::warn!(%room, error = %e, "sweep failed; the sweeper retries");
            }
        });
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/recordings/{roomId}/events", tag = "rooms",
    params(("roomId" = String, Path, format = Uuid)), security(("participant_token" = [])),
    responses((status = 200, body = Timeline), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// `GET /api/recordings/{roomId}/events` (participants of the room): the audit
/// timeline, from Postgres.
async fn events(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    headers: HeaderMap,
) -> Result<Json<Timeline>, ApiError> {
    auth::room_access(&app, &headers, room).await?;
    let events = room_events(&app.pool, room, 0, None).await?;
    if events.is_empty() {
        return Err(ApiError::NotFound(format!("room {room} does not exist")));
    }
    Ok(Json(Timeline {
        room_id: room,
        events,
    }))
}
