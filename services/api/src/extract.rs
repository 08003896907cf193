//! Extractors that turn bad input into a 400 with our error shape, never a 500
//! and never axum's plain-text rejection.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use zencast_events::{ChunkIndex, ParticipantId, RoomId};

use crate::error::ApiError;

/// A JSON body; malformed JSON, a wrong content type or a wrong field is a 400.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(ApiError::BadRequest(match e {
                JsonRejection::JsonDataError(e) => {
                    format!("invalid request body: {}", e.body_text())
                }
                JsonRejection::JsonSyntaxError(_) => "request body is not valid JSON".into(),
                JsonRejection::MissingJsonContentType(_) => {
                    "expected Content-Type: application/json".into()
                }
                other => other.body_text(),
            })),
        }
    }
}

/// A JSON body that may be absent (no bytes at all): `None` then. Present
/// and malformed, it is a 400 like `ApiJson`'s.
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        serde_json::from_slice(&bytes)
            .map(|v| OptionalJson(Some(v)))
            .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
    }
}

/// A query string, parsed; one that does not parse is a 400 with our error
/// shape (axum's own rejection is plain text).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))
    }
}

/// `{roomId}` in the path, parsed into a `RoomId` (400 when not a UUID).
pub struct RoomPath(pub RoomId);

impl<S: Send + Sync> FromRequestParts<S> for RoomPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        Ok(RoomPath(RoomId::parse(&raw)?))
    }
}

/// `{roomId}/participants/{participantId}[/chunks/{chunkIndex}]` in the path,
/// each parsed (400 on anything that is not a UUID or a bounded index).
pub struct ChunkPath {
    pub room: RoomId,
    pub participant: ParticipantId,
    pub index: Option<ChunkIndex>,
}

impl<S: Send + Sync> FromRequestParts<S> for ChunkPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let get = |k: &str| raw.get(k).map(String::as_str).unwrap_or_default();
        Ok(ChunkPath {
            room: RoomId::parse(get("room_id"))?,
            participant: ParticipantId::parse(get("participant_id"))?,
            index: match raw.get("chunk_index") {
                Some(i) => Some(ChunkIndex::parse(i)?),
                None => None,
            },
        })
    }
}
