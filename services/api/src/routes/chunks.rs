//! Chunk uploads, safe to retry: the path of one chunk from the browser to S3
//! and into the log as `ChunkUploaded`.
//!
//! 1. The body is staged on local disk while it is hashed and counted (413 past
//!    the limit; a cut-off body stages nothing).
//! 2. The same bytes already recorded: 200, nothing new. Other bytes for a
//!    recorded index: 409, the stored object untouched.
//! 3. The object is written with `If-None-Match: *` and a SHA-256 checksum,
//!    then read back (size and hash) before `ChunkUploaded` is appended.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use zencast_eventlog::log::room_events;
use zencast_eventlog::Origin;
use zencast_events::aggregate::{rfc3339, RECORDER_START_TOLERANCE};
use zencast_events::protocol::{ChunkStored, ErrorBody, StoredChunks};
use zencast_events::{Phase, RecordingCommand, RecordingError};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ChunkPath;
use crate::staging::stage;
use crate::state::AppState;
use zencast_storage::chunk_key;

/// An object under a chunk's key that no event recorded and that is older than
/// this is left over from a crashed upload, and may be replaced.
const ORPHAN_AGE: Duration = Duration::from_secs(60);

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/recordings/{room_id}/participants/{participant_id}/chunks/{chunk_index}",
            // Our own limit applies while streaming; axum's buffered-body limit does not.
            put(upload)
                .layer(DefaultBodyLimit::disable())
                .layer(axum::middleware::map_response(close_after_refusal)),
        )
        .route(
            "/api/recordings/{room_id}/participants/{participant_id}/chunks",
            get(list),
        )
}

#[utoipa::path(put, path = "/api/recordings/{roomId}/participants/{participantId}/chunks/{chunkIndex}", tag = "chunks",
    params(("roomId" = String, Path, format = Uuid), ("participantId" = String, Path, format = Uuid),
        ("chunkIndex" = u32, Path, maximum = 100000),
        ("Zencast-Recording-Start" = Option<f64>, Header, description = "When the recorder that made this chunk started: ms since the Unix epoch in server time. Believed from 2 s before the recording started until 2 s after it stopped, and not after the upload itself (+2 s)"),
        ("Zencast-Media-Zero" = Option<f64>, Header, description = "Where the recorder's media time zero lies: ms since the Unix epoch in server time, as the browser measured it (slice hand-over times less the media time of their newest video frame). Kept within the same bounds (otherwise ignored); it places the recording on the timeline")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The chunk's bytes, whatever its content type (browsers send `video/webm` or `video/mp4`)"),
    security(("participant_token" = [])),
    responses((status = 201, body = ChunkStored, description = "Stored"), (status = 200, body = ChunkStored, description = "Already stored (same bytes)"),
        (status = 400, body = ErrorBody, description = "`bad_recording_start`: the recorder start is not a number or lies outside the session; `bad_request`: an empty chunk, a bad id or index"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 408, body = ErrorBody, description = "`body_timeout`: the body stopped arriving"), (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "`too_many_uploads`: this participant has 3 uploads in progress"), (status = 503, body = ErrorBody)))]
/// `PUT /api/recordings/{roomId}/participants/{participantId}/chunks/{chunkIndex}`
/// with the participant's own token: 201 stored, 200 already stored (same bytes).
async fn upload(
    State(app): State<AppState>,
    path: ChunkPath,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ChunkStored>), ApiError> {
    let (room, participant) = (path.room, path.participant);
    let index = path
        .index
        .ok_or_else(|| ApiError::BadRequest("no chunk index".into()))?;
    let caller = caller.in_room(room)?;
    if caller.participant != participant {
        return Err(ApiError::Forbidden(
            "a participant uploads only its own chunks".into(),
        ));
    }
    let _slot = app.uploads.take(participant).ok_or_else(|| {
        ApiError::TooMany(
            "too_many_uploads",
            format!(
                "{} uploads of this participant are in progress; retry when one has finished",
                crate::limits::UPLOADS_PER_PARTICIPANT
            ),
        )
    })?;
    let recorder_started_at = recording_start(&headers)?;
    let max = app.settings.max_chunk_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(ApiError::TooLarge(format!(
            "the chunk is larger than {max} bytes"
        )));
    }
    let state = app
        .log
        .load(room)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("room {room} does not exist")))?;
    let Some(me) = state.participants.get(&participant) else {
        return Err(ApiError::Forbidden("join the room before uploading".into()));
    };
    let stored = &me.chunks;
    let media_zero_at = media_zero(&headers, &state, Utc::now())?;
    // Refused before the body is read when no body could change the answer
    // (a stored chunk may always be re-sent: the same bytes are a 200).
    if !stored.contains_key(&index) {
        if state.deleted {
            return Err(RecordingError::Deleted.into());
        }
        crate::quotas::check_new_chunk(&app, &state).await?;
        match state.phase {
            Phase::Open => return Err(not_recording()),
            // Late: only one who had not finished when it completed.
            Phase::Completed if me.finished.is_some() => return Err(session_completed()),
            _ => {}
        }
        if me.finished.is_some_and(|count| index.get() >= count) {
            return Err(RecordingError::UploadsFinished(participant).into());
        }
    }

    let staged = stage(&app.settings.staging_dir, body, max, app.settings.body_idle).await?;
    let key = chunk_key(room, participant, index);
    let reply = |status| {
        Ok((
            status,
            Json(ChunkStored {
                index,
                size: staged.size,
                sha256: staged.sha256,
                key: key.clone(),
            }),
        ))
    };
    match stored.get(&index) {
        Some(h) if *h == staged.sha256 => return reply(StatusCode::OK),
        Some(_) => {
            return Err(ApiError::Conflict(
                "chunk_conflict",
                format!("chunk {index} is already stored with other bytes"),
            ))
        }
        None => {}
    }
    // Refuse before writing anything the log would refuse afterwards.
    if state.phase == Phase::Completed && me.finished.is_some() {
        return Err(session_completed());
    }
    if staged.size == 0 {
        return Err(ApiError::BadRequest("a chunk cannot be empty".into()));
    }
    if let Some(start) = recorder_started_at {
        state.check_recorder_start(start)?;
        not_after_now(start, Utc::now())?;
    }

    let store = &app.chunks;
    if !store
        .put_file(&key, &staged.path, staged.size, staged.sha256, true)
        .await?
    {
        // Something is already there that the log does not record.
        match store.head(&key).await? {
            Some(o) if o.sha256 == Some(staged.sha256) && o.size == staged.size => {}
            Some(o) if o.age > ORPHAN_AGE => {
                store
                    .put_file(&key, &staged.path, staged.size, staged.sha256, false)
                    .await?;
            }
            _ => {
                return Err(ApiError::Conflict(
                    "upload_in_progress",
                    format!("another upload of chunk {index} is in progress; retry shortly"),
                ))
            }
        }
    }
    // Only what the store holds, whole, is announced.
    match store.head(&key).await? {
        Some(o) if o.size == staged.size && o.sha256 == Some(staged.sha256) => {}
        other => {
            return Err(ApiError::Unavailable(
                crate::error::OBJECT_STORE,
                format!("it did not keep chunk {index} whole ({other:?})"),
            ))
        }
    }
    let appended = app
        .log
        .execute(
            room,
            RecordingCommand::RecordChunk {
                participant,
                index,
                size: staged.size,
                sha256: staged.sha256,
                key: key.clone(),
                starts_segment: staged.starts_with_header,
                recorder_started_at,
                media_zero_at,
            },
            &Origin::now(participant.to_string()),
        )
        .await?;
    reply(if appended.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    })
}

/// The request header with the recorder's start in server time (milliseconds
/// since the Unix epoch, the client's clock corrected by the WebSocket clock
/// sync). Clients send it with every chunk; the log keeps it for the chunks that
/// start a segment.
pub const RECORDING_START_HEADER: &str = "zencast-recording-start";

/// The request header with where the recorder's media time zero lies, in
/// server time like [`RECORDING_START_HEADER`] (the browser's measure: when
/// slices were handed over, less the media time of their newest video
/// frame). It places the recording on the timeline.
pub const MEDIA_ZERO_HEADER: &str = "zencast-media-zero";

fn recording_start(headers: &HeaderMap) -> Result<Option<DateTime<Utc>>, ApiError> {
    time_header(headers, RECORDING_START_HEADER)
}

/// The recorder's media zero, if the client says so and the server can
/// believe it: within the session as a recorder start is, and not after the
/// upload itself. A time outside that is dropped, not refused (the chunk is
/// still good; the render then places it by its recorder start).
fn media_zero(
    headers: &HeaderMap,
    state: &zencast_events::Recording,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let at = time_header(headers, MEDIA_ZERO_HEADER)?;
    Ok(at.filter(|at| {
        let believed = state.check_recorder_start(*at).is_ok() && not_after_now(*at, now).is_ok();
        if !believed {
            tracing::debug!(media_zero = %rfc3339(*at), "a media zero outside the session; ignored");
        }
        believed
    }))
}

/// A header of milliseconds since the Unix epoch.
fn time_header(headers: &HeaderMap, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::Invalid(
            BAD_RECORDING_START,
            format!("{name} must be milliseconds since the Unix epoch"),
        )
    };
    let ms: f64 = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|ms: &f64| ms.is_finite() && *ms > 0.0)
        .ok_or_else(bad)?;
    DateTime::from_timestamp_micros((ms * 1000.0).round() as i64)
        .map(Some)
        .ok_or_else(bad)
}

/// The error code of a recorder start that is not a time or not in the session.
pub const BAD_RECORDING_START: &str = "bad_recording_start";

/// A recorder cannot have started after the upload of one of its chunks; the
/// log has no clock, so this half of the rule is checked here, with the same
/// tolerance for the clock sync's error as the log's.
fn not_after_now(start: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ApiError> {
    if start <= now + RECORDER_START_TOLERANCE {
        return Ok(());
    }
    Err(ApiError::Invalid(
        BAD_RECORDING_START,
        format!(
            "the recorder start {} lies in the future (the server's time is {}; \
             allowed up to {} s after it)",
            rfc3339(start),
            rfc3339(now),
            RECORDER_START_TOLERANCE.num_milliseconds() as f64 / 1000.0
        ),
    ))
}

/// A refused upload's body was not read (that is the point of refusing
/// early): the connection cannot carry another request, so the client is told
/// to open a new one rather than finding out by a failed send.
async fn close_after_refusal(mut response: axum::response::Response) -> axum::response::Response {
    if response.status().is_client_error() || response.status().is_server_error() {
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

fn not_recording() -> ApiError {
    ApiError::Conflict("not_recording", "recording has not started".into())
}

fn session_completed() -> ApiError {
    ApiError::Conflict("session_completed", "the session is completed".into())
}

#[utoipa::path(get, path = "/api/recordings/{roomId}/participants/{participantId}/chunks", tag = "chunks",
    params(("roomId" = String, Path, format = Uuid), ("participantId" = String, Path, format = Uuid)),
    security(("participant_token" = [])),
    responses((status = 200, body = StoredChunks), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// `GET …/participants/{participantId}/chunks`: what is stored, so a client that
/// lost its place knows exactly what to send again.
async fn list(
    State(app): State<AppState>,
    path: ChunkPath,
    caller: Caller,
) -> Result<Json<StoredChunks>, ApiError> {
    let caller = caller.in_room(path.room)?;
    if caller.participant != path.participant {
        return Err(ApiError::Forbidden(
            "a participant lists only its own chunks".into(),
        ));
    }
    let mut chunks = Vec::new();
    for e in room_events(&app.pool, path.room, 0, None).await? {
        if let Ok(zencast_events::RecordingEvent::ChunkUploaded {
            participant,
            index,
            size,
            sha256,
            key,
            ..
        }) = e.event()
        {
            if participant == path.participant {
                chunks.push(ChunkStored {
                    index,
                    size,
                    sha256,
                    key,
                });
            }
        }
    }
    Ok(Json(StoredChunks {
        participant_id: path.participant,
        chunks,
    }))
}
