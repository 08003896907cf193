//! Renders and their files: asking for another render of a completed room, and
//! downloading what the last render wrote (`final.mp4`, each participant's
//! WAV and MP4), streamed from S3 through the api.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use zencast_eventlog::Origin;
use zencast_events::protocol::{
    ErrorBody, FileView, Files, RenderAccepted, RenderRequest, RenderStatus,
};
use zencast_events::{RecordingCommand, RoomId};
use zencast_projections::fresh::read_fresh;
use zencast_projections::RoomState;

use crate::auth;
use crate::error::ApiError;
use crate::extract::{ApiQuery, OptionalJson, RoomPath};
use crate::state::AppState;
use crate::tokens::DownloadSignature;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/recordings/{room_id}/render", post(request))
        .route("/api/recordings/{room_id}/files", get(list))
        .route("/api/recordings/{room_id}/files/{*name}", get(download))
}

#[utoipa::path(post, path = "/api/recordings/{roomId}/render", tag = "renders",
    params(("roomId" = String, Path, format = Uuid)), request_body = RenderRequest,
    security(("participant_token" = [])),
    responses((status = 202, body = RenderAccepted, description = "Requested; a render worker picks it up"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not completed yet, or a render is running")))]
/// `POST /api/recordings/{roomId}/render` (the host, or the account that
/// created the room): another render of a completed room, with another layout if given (`RenderRequested`).
async fn request(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RenderRequest>,
) -> Result<(StatusCode, Json<RenderAccepted>), ApiError> {
    let host = auth::room_host(&app, &headers, room).await?;
    let state = app
        .log
        .load(room)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("room {room} does not exist")))?;
    let layout = body
        .and_then(|b| b.layout)
        .or(state.room.map(|r| r.layout))
        .unwrap_or_default();
    let ask = RecordingCommand::RequestRender {
        layout,
        force: false,
    };
    let appended = app.log.execute(room, ask, &Origin::now(host.actor)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RenderAccepted {
            status: RenderStatus::Requested,
            layout,
            sequence: appended.last().map_or(0, |e| e.sequence),
        }),
    ))
}

/// Replaces each file's plain path by a download link signed for a few minutes.
pub fn sign_links(app: &AppState, room: RoomId, files: &mut [FileView]) {
    let now = chrono::Utc::now();
    for f in files {
        f.url = app.tokens.download_link(room, &f.name, now);
    }
}

async fn files(app: &AppState, room: RoomId) -> Result<Vec<FileView>, ApiError> {
    let state = RoomState::new(app.redis.clone(), app.prefix());
    // From the log as it is: a finished room's files survive a Redis wipe.
    let view = read_fresh(&app.pool, &state, room)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("room {room} does not exist")))?;
    Ok(view.render.files)
}

#[utoipa::path(get, path = "/api/recordings/{roomId}/files", tag = "renders",
    params(("roomId" = String, Path, format = Uuid)), security(("participant_token" = [])),
    responses((status = 200, body = Files, description = "What the last completed render wrote, each with a download link signed for 15 minutes; empty before"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// `GET /api/recordings/{roomId}/files` (any participant of the room, or its
/// host's account).
async fn list(
    State(app): State<AppState>,
    RoomPath(room): RoomPath,
    headers: HeaderMap,
) -> Result<Json<Files>, ApiError> {
    auth::room_access(&app, &headers, room).await?;
    let mut files = files(&app, room).await?;
    sign_links(&app, room, &mut files);
    Ok(Json(Files { files }))
}

#[utoipa::path(get, path = "/api/recordings/{roomId}/files/{name}", tag = "renders",
    params(("roomId" = String, Path, format = Uuid), ("name" = String, Path, description = "`final.mp4`, `tracks/{participantId}.wav` or `.mp4`"),
        ("expires" = Option<i64>, Query, description = "A download link's expiry (unix seconds)"),
        ("signature" = Option<String>, Query, description = "A download link's signature")),
    security(("participant_token" = []), ()),
    responses((status = 200, content_type = "application/octet-stream", description = "The file, streamed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// `GET /api/recordings/{roomId}/files/{name}`: one rendered file, streamed
/// from the store (only names the last render wrote; nothing else is
/// reachable), for a signed download link (the room view's and the file list's
/// `url`) or a participant's `Authorization: Bearer` token.
async fn download(
    State(app): State<AppState>,
    Path((raw_room, name)): Path<(String, String)>,
    ApiQuery(link): ApiQuery<DownloadSignature>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let room = RoomId::parse(&raw_room)?;
    if link.signature.is_some() {
        app.tokens
            .verify_download(room, &name, &link, chrono::Utc::now())
            .map_err(auth::token_error)?;
    } else if let Some(token) = auth::bearer(&headers) {
        auth::participant(&app, token).await?.in_room(room)?;
    } else {
        return Err(ApiError::Unauthorized(
            "a download needs a signed link (the file list's url) or a participant token".into(),
        ));
    }
    let file = files(&app, room)
        .await?
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no file `{name}` in this room's render")))?;
    let download_name = file.name.replace('/', "-");
    let opened = app
        .chunks
        .open(&format!("processed/{room}/{}", file.name))
        .await?;
    let (content_type, length, stream) = (opened.content_type, opened.size, opened.body);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{download_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
