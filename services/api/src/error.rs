//! One error type for every handler, mapped once to a status and the JSON shape
//! `{"error": {"code": …, "message": …}}`. Internal errors are logged in full
//! and shown to the client only as a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use zencast_eventlog::{CommandError, LogError};
use zencast_events::protocol::{ErrorBody, ErrorDetail};
use zencast_events::{IdError, RecordingError};
use zencast_projections::ProjectionError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// A 400 with its own code.
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A 403 with its own code (a removed participant, a revoked invite).
    #[error("{1}")]
    Denied(&'static str, String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(&'static str, String),
    /// The recording was deleted.
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    TooLarge(String),
    /// A 429 with its own code: too much at once from one participant.
    #[error("{1}")]
    TooMany(&'static str, String),
    /// The request body stopped arriving.
    #[error("{0}")]
    Timeout(String),
    /// A dependency did not answer: the client learns which one and to retry;
    /// the detail (addresses, driver errors, paths) goes to the log only.
    #[error("{0} is unavailable; retry shortly")]
    Unavailable(&'static str, String),
    /// Logged in full, shown to the client as a generic message.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Invalid(code, _) => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Denied(code, _) => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(code, _) => (StatusCode::CONFLICT, code),
            ApiError::Gone(_) => (StatusCode::GONE, "deleted"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::TooMany(code, _) => (StatusCode::TOO_MANY_REQUESTS, code),
            ApiError::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::Unavailable(..) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                "internal error; see the server log".to_string()
            }
            ApiError::Unavailable(what, detail) => {
                tracing::warn!(dependency = what, error = %detail, "dependency unavailable");
                self.to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<IdError> for ApiError {
    fn from(e: IdError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<RecordingError> for ApiError {
    fn from(e: RecordingError) -> Self {
        use RecordingError as R;
        let msg = e.to_string();
        match e {
            R::RoomNotFound => ApiError::NotFound(msg),
            R::Invalid(_) => ApiError::BadRequest(msg),
            R::NotAParticipant(_) | R::NotHost => ApiError::Forbidden(msg),
            R::RoomExists => ApiError::Conflict("room_exists", msg),
            R::RoomFull(_) => ApiError::Conflict("room_full", msg),
            R::Removed(_) => ApiError::Denied(REMOVED, msg),
            R::InviteRevoked => ApiError::Denied("invite_revoked", msg),
            R::InviteUsedUp(_) => ApiError::Conflict("invite_used_up", msg),
            R::SessionCompleted => ApiError::Conflict("session_completed", msg),
            R::NotRecording => ApiError::Conflict("not_recording", msg),
            R::AlreadyStarted => ApiError::Conflict("already_started", msg),
            R::ChunkConflict { .. } => ApiError::Conflict("chunk_conflict", msg),
            R::UploadsFinished(_) | R::ChunkCount(_) => ApiError::Conflict("chunk_count", msg),
            R::Render(_) => ApiError::Conflict("render", msg),
            R::Deleted => ApiError::Gone(msg),
            R::StillRecording => ApiError::Conflict("still_recording", msg),
            R::NotDeleted(_) => ApiError::Conflict("not_deleted", msg),
            R::RecorderStartOutsideSession { .. } => {
                ApiError::Invalid(crate::routes::chunks::BAD_RECORDING_START, msg)
            }
        }
    }
}

/// The code of every refusal of a participant the host removed.
pub const REMOVED: &str = "removed";

const EVENT_LOG: &str = "the event log";
/// The S3-compatible store of chunks and renders.
pub const OBJECT_STORE: &str = "the object store";

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Rejected(r) => r.into(),
            CommandError::Conflict => ApiError::Conflict("concurrent_update", e.to_string()),
            CommandError::Storage(s) => ApiError::Unavailable(EVENT_LOG, s),
        }
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Db(db) => ApiError::Unavailable(EVENT_LOG, db.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(e: ProjectionError) -> Self {
        match e {
            ProjectionError::Redis(r) => ApiError::Unavailable("the room state", r.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<zencast_eventlog::hosts::HostLogError> for ApiError {
    fn from(e: zencast_eventlog::hosts::HostLogError) -> Self {
        use zencast_eventlog::hosts::HostLogError as H;
        use zencast_events::host::HostError;
        let msg = e.to_string();
        match e {
            H::Rejected(HostError::BadEmail(_)) => ApiError::Invalid("bad_email", msg),
            H::Rejected(HostError::ShortPassword) => ApiError::Invalid("weak_password", msg),
            H::Rejected(HostError::EmailTaken(_)) => ApiError::Conflict("email_taken", msg),
            H::Rejected(HostError::NotFound) => ApiError::NotFound(msg),
            H::AlreadySetUp => ApiError::Conflict("already_set_up", msg),
            H::Db(db) => ApiError::Unavailable(EVENT_LOG, db.to_string()),
            H::Unreadable(_) => ApiError::Internal(msg),
        }
    }
}

impl From<zencast_storage::StorageError> for ApiError {
    fn from(e: zencast_storage::StorageError) -> Self {
        match e {
            zencast_storage::StorageError::Missing(_) => ApiError::NotFound(e.to_string()),
            other => ApiError::Unavailable(OBJECT_STORE, other.to_string()),
        }
    }
}

impl From<crate::staging::StageError> for ApiError {
    fn from(e: crate::staging::StageError) -> Self {
        use crate::staging::StageError as S;
        match e {
            S::TooLarge(_) => ApiError::TooLarge(e.to_string()),
            S::Interrupted(_) => ApiError::BadRequest(e.to_string()),
            S::Stalled(_) => ApiError::Timeout(e.to_string()),
            S::Disk(_) => ApiError::Unavailable("the upload staging disk", e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dependency_failure_names_the_dependency_and_keeps_its_detail_in_the_log() {
        let detail = "dispatch failure: tcp connect error 10.0.0.7:9000 (/var/lib/zencast/s3)";
        let response = ApiError::Unavailable(OBJECT_STORE, detail.into()).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "unavailable");
        assert_eq!(
            body["error"]["message"],
            "the object store is unavailable; retry shortly"
        );
    }
}
