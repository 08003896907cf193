//! The api over `fetch` (gloo-net): the requests and replies of the shared protocol
//! (`zencast_events::protocol`, the types the api itself uses), and errors in
//! plain words. A room's participants send their token; a host's own requests
//! (signing in, the dashboard) are in [`hosts`] and go with the sign-in cookie.

mod hosts;

pub use hosts::{dashboard, delete_recording, me, rerender, setup, sign_in, sign_out, HostStep};

use gloo_net::http::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use web_sys::Blob;

use crate::chunk_store::PendingChunk;
use zencast_events::protocol::{
    Complete, CreateRoom, Created, ErrorBody, Files, Invite, InviteRequest, JoinRequest, Joined,
    RenderRequest, RoomView, StoredChunks,
};
use zencast_events::{Layout, ParticipantId, RoomId};

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// No answer at all: offline, or the server is down.
    Network,
    /// An answer with an error status and the api's `{"error": {code, message}}`.
    Http {
        status: u16,
        code: String,
        message: String,
    },
}

impl ApiError {
    /// Worth trying again later (the network, or a server that is busy or restarting).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Network => true,
            ApiError::Http { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        }
    }

    /// The host removed this participant: nothing it sends will be taken.
    pub fn is_removed(&self) -> bool {
        matches!(self, ApiError::Http { status: 403, code, .. } if code == REMOVED)
    }

    /// What to tell a person.
    pub fn plain(&self) -> String {
        match self {
            ApiError::Network => {
                "Zencast can't reach the server. Check your connection; it will keep trying.".into()
            }
            ApiError::Http {
                status,
                code,
                message,
            } => match (*status, code.as_str()) {
                (409, "room_full") => "This session is full: no one else can join it.".into(),
                (403, REMOVED) => REMOVED_TEXT.into(),
                (403, "invite_revoked") => {
                    "This invite link no longer works: the host replaced or revoked it. Ask the host for the current link."
                        .into()
                }
                (409, "invite_used_up") => {
                    "This invite link has been used by as many guests as it allows. Ask the host for a new one."
                        .into()
                }
                (409, "session_completed") => "This session has already finished.".into(),
                (403, quota) if quota.starts_with("quota_") => hosts::sentence(message),
                (410, _) => "The host deleted this session.".into(),
                (401, _) => {
                    "This link has expired or is not valid. Ask the host for a new invite link."
                        .into()
                }
                (403, _) => "This link belongs to another session.".into(),
                (404, _) => "This session does not exist. Check the link.".into(),
                (503, _) => "The server is starting up. Try again in a moment.".into(),
                _ => format!("Something went wrong on the server: {message}"),
            },
        }
    }
}

/// The api's code for a participant the host removed.
pub const REMOVED: &str = "removed";
pub const REMOVED_TEXT: &str =
    "The host removed you from this session. What was already uploaded stays in the recording.";

enum Body {
    None,
    /// A request of the protocol, serialized.
    Json(String),
    Blob(Blob),
}

impl Body {
    fn json(request: &impl Serialize) -> Self {
        Body::Json(serde_json::to_string(request).unwrap_or_default())
    }
}

async fn send(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Body,
    extra_headers: &[(&str, String)],
) -> Result<Value, ApiError> {
    let mut request = RequestBuilder::new(path).method(method);
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    for (name, value) in extra_headers {
        request = request.header(name, value);
    }
    let request = match body {
        Body::None => request.build(),
        Body::Json(text) => request
            .header("Content-Type", "application/json")
            .body(text),
        Body::Blob(b) => request.header("Content-Type", "video/webm").body(b),
    }
    .map_err(|_| ApiError::Network)?;
    let response = request.send().await.map_err(|_| ApiError::Network)?;
    let text = response.text().await.unwrap_or_default();
    if response.ok() {
        return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    // An error without the api's body (a proxy's page, say) keeps its status.
    let detail = serde_json::from_str::<ErrorBody>(&text)
        .ok()
        .map(|b| b.error);
    Err(ApiError::Http {
        status: response.status(),
        code: detail.as_ref().map(|d| d.code.clone()).unwrap_or_default(),
        message: detail.map(|d| d.message).unwrap_or_default(),
    })
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::Http {
        status: 200,
        code: "unexpected_reply".into(),
        message: e.to_string(),
    })
}

pub async fn create_room(
    title: &str,
    layout: Layout,
    chunk_seconds: u32,
    host_name: &str,
) -> Result<Created, ApiError> {
    let body = Body::json(&CreateRoom {
        title: title.into(),
        layout,
        chunk_seconds,
        host_name: host_name.into(),
    });
    decode(send(Method::POST, "/api/recordings", None, body, &[]).await?)
}

pub async fn join_with_invite(room: RoomId, name: &str, invite: &str) -> Result<Joined, ApiError> {
    let body = Body::json(&JoinRequest {
        display_name: name.into(),
        invite_token: Some(invite.into()),
        participant_token: None,
    });
    let path = format!("/api/recordings/{room}/join");
    decode(send(Method::POST, &path, None, body, &[]).await?)
}

pub async fn room(room: RoomId, token: &str) -> Result<RoomView, ApiError> {
    let path = format!("/api/recordings/{room}");
    decode(send(Method::GET, &path, Some(token), Body::None, &[]).await?)
}

pub async fn start_recording(room: RoomId, token: &str) -> Result<(), ApiError> {
    let path = format!("/api/recordings/{room}/start");
    send(Method::POST, &path, Some(token), Body::None, &[])
        .await
        .map(|_| ())
}

pub async fn stop_recording(room: RoomId, token: &str) -> Result<(), ApiError> {
    let path = format!("/api/recordings/{room}/stop");
    send(Method::POST, &path, Some(token), Body::None, &[])
        .await
        .map(|_| ())
}

/// Chunk indexes the server has stored for this participant.
pub async fn stored_chunks(
    room: RoomId,
    participant: ParticipantId,
    token: &str,
) -> Result<Vec<u32>, ApiError> {
    let path = format!("/api/recordings/{room}/participants/{participant}/chunks");
    let list: StoredChunks = decode(send(Method::GET, &path, Some(token), Body::None, &[]).await?)?;
    Ok(list
        .chunks
        .into_iter()
        .map(|c| u32::from(c.index))
        .collect())
}

/// Stores one chunk, with its recorder's start and media zero, both in server time.
pub async fn put_chunk(
    room: RoomId,
    participant: ParticipantId,
    token: &str,
    chunk: &PendingChunk,
) -> Result<(), ApiError> {
    let index = chunk.index;
    let path = format!("/api/recordings/{room}/participants/{participant}/chunks/{index}");
    let ms = |t: f64| format!("{}", t.round() as i64);
    let mut times = vec![("Zencast-Recording-Start", ms(chunk.recording_start_ms))];
    if let Some(at) = chunk.media_zero_ms {
        times.push(("Zencast-Media-Zero", ms(at)));
    }
    send(
        Method::PUT,
        &path,
        Some(token),
        Body::Blob(chunk.blob.clone()),
        &times,
    )
    .await
    .map(|_| ())
}

pub async fn uploads_complete(
    room: RoomId,
    participant: ParticipantId,
    token: &str,
    chunk_count: u32,
) -> Result<(), ApiError> {
    let body = Body::json(&Complete {
        room_id: room,
        participant_id: participant,
        chunk_count,
    });
    send(
        Method::POST,
        "/api/uploads/complete",
        Some(token),
        body,
        &[],
    )
    .await
    .map(|_| ())
}

pub async fn files(
    room: RoomId,
    token: &str,
) -> Result<Vec<zencast_events::protocol::FileView>, ApiError> {
    let path = format!("/api/recordings/{room}/files");
    let list: Files = decode(send(Method::GET, &path, Some(token), Body::None, &[]).await?)?;
    Ok(list.files)
}

pub async fn request_render(room: RoomId, token: &str, layout: Layout) -> Result<(), ApiError> {
    let body = Body::json(&RenderRequest {
        layout: Some(layout),
    });
    let path = format!("/api/recordings/{room}/render");
    send(Method::POST, &path, Some(token), body, &[])
        .await
        .map(|_| ())
}

/// A new invite link (host); the earlier links stop working.
pub async fn renew_invite(
    room: RoomId,
    token: &str,
    max_joins: Option<u32>,
) -> Result<Invite, ApiError> {
    let body = Body::json(&InviteRequest { max_joins });
    let path = format!("/api/recordings/{room}/invite");
    decode(send(Method::POST, &path, Some(token), body, &[]).await?)
}

/// Revokes the invite link (host): nobody new joins until a new one is made.
pub async fn revoke_invite(room: RoomId, token: &str) -> Result<(), ApiError> {
    let path = format!("/api/recordings/{room}/invite");
    send(Method::DELETE, &path, Some(token), Body::None, &[])
        .await
        .map(|_| ())
}

/// Removes a participant (host).
pub async fn remove_participant(
    room: RoomId,
    token: &str,
    participant: ParticipantId,
) -> Result<(), ApiError> {
    let path = format!("/api/recordings/{room}/participants/{participant}");
    send(Method::DELETE, &path, Some(token), Body::None, &[])
        .await
        .map(|_| ())
}
