//! Who is calling: a participant token, from `Authorization: Bearer …`, checked
//! against the room in the path; or, for reads and host actions, the host
//! account that created the room ([`crate::accounts`]). Only the WebSocket,
//! which a browser cannot give a header, takes a token from the URL
//! (`?token=`); downloads use signed links.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use chrono::Utc;
use zencast_events::{ParticipantId, Role, RoomId};

use zencast_eventlog::log::is_removed;

use crate::accounts::{bearer_api_key, signed_in};
use crate::error::{ApiError, REMOVED};
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

/// Verifies a participant token (an invite is not one) and that the host has
/// not removed its participant.
pub async fn participant(app: &AppState, token: &str) -> Result<Caller, ApiError> {
    let Claims {
        room,
        participant,
        role,
        ..
    } = app.tokens.verify(token, Utc::now()).map_err(token_error)?;
    let participant = participant.ok_or_else(|| {
        ApiError::Unauthorized("an invite token cannot be used here: join first".into())
    })?;
    if is_removed(&app.pool, room, participant).await? {
        return Err(ApiError::Denied(
            REMOVED,
            "the host removed you from this session".into(),
        ));
    }
    Ok(Caller {
        room,
        participant,
        role,
    })
}

/// Who may read a room, or act as its host: one of its participants (by
/// token), or the host account that created it (cookie or API key).
#[derive(Debug, Clone)]
pub struct RoomAccess {
    /// The actor of events this caller causes.
    pub actor: String,
    /// The room's host participant, or its owner's account.
    pub is_host: bool,
}

/// Checks that the caller may see `room` (see [`RoomAccess`]).
pub async fn room_access(
    app: &AppState,
    headers: &HeaderMap,
    room: RoomId,
) -> Result<RoomAccess, ApiError> {
    if let Some(token) = bearer(headers).filter(|_| bearer_api_key(headers).is_none()) {
        let caller = participant(app, token).await?.in_room(room)?;
        return Ok(RoomAccess {
            actor: caller.participant.to_string(),
            is_host: caller.role == Role::Host,
        });
    }
    let Some(host) = signed_in(app, headers).await? else {
        return Err(ApiError::Unauthorized(
            "a participant token of this room (Authorization: Bearer) or its host's sign-in is needed"
                .into(),
        ));
    };
    let owner = app
        .log
        .load(room)
        .await?
        .and_then(|r| r.room.and_then(|info| info.owner));
    if owner != Some(host.id) {
        return Err(ApiError::Forbidden(
            "this recording belongs to another host".into(),
        ));
    }
    Ok(RoomAccess {
        actor: host.actor(),
        is_host: true,
    })
}

/// [`room_access`] for the room's host only.
pub async fn room_host(
    app: &AppState,
    headers: &HeaderMap,
    room: RoomId,
) -> Result<RoomAccess, ApiError> {
    let access = room_access(app, headers, room).await?;
    if !access.is_host {
        return Err(ApiError::Forbidden("only the host may do this".into()));
    }
    Ok(access)
}

/// The token of `Authorization: Bearer …`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".into()))?;
        participant(app, token).await
    }
}
