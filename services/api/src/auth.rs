//! Who is calling: a participant token, from `Authorization: Bearer …` (HTTP) or
//! `?token=…` (the WebSocket and download links, which cannot set headers), checked against
//! the room in the path.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::Utc;
use zencast_events::{ParticipantId, Role, RoomId};

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::{Claims, TokenError};

/// A verified participant of some room.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub room: RoomId,
    pub participant: ParticipantId,
    pub role: Role,
}

impl Caller {
    /// Refuses a token of another room.
    pub fn in_room(self, room: RoomId) -> Result<Self, ApiError> {
        if self.room == room {
            Ok(self)
        } else {
            Err(ApiError::Forbidden("this token is for another room".into()))
        }
    }
}

pub fn token_error(e: TokenError) -> ApiError {
    ApiError::Unauthorized(match e {
        TokenError::Expired => "the token or link has expired".into(),
        TokenError::Malformed | TokenError::BadSignature => "the token is not valid".into(),
    })
}

/// Verifies a participant token (an invite is not one).
pub fn participant(app: &AppState, token: &str) -> Result<Caller, ApiError> {
    let Claims {
        room,
        participant,
        role,
        ..
    } = app.tokens.verify(token, Utc::now()).map_err(token_error)?;
    let participant = participant.ok_or_else(|| {
        ApiError::Unauthorized("an invite token cannot be used here: join first".into())
    })?;
    Ok(Caller {
        room,
        participant,
        role,
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        // A plain link (a download, a WebSocket) cannot carry a header.
        let query = || {
            Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
                .ok()
                .and_then(|Query(mut q)| q.remove("token"))
        };
        let token = header.or_else(query).ok_or_else(|| {
            ApiError::Unauthorized("missing Authorization: Bearer token (or ?token=)".into())
        })?;
        participant(app, token.trim())
    }
}
