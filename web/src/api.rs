//! The api over `fetch`: typed requests and replies, and errors in plain words.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, Headers, Request, RequestInit, Response};

use crate::browser::window;

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
                (409, "session_completed") => "This session has already finished.".into(),
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

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub room_id: String,
    pub host_participant_id: String,
    pub host_token: String,
    pub invite_url: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    pub participant_id: String,
    pub participant_token: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RoomView {
    pub room_id: String,
    /// `open`, `recording`, `stopped` or `completed`.
    pub status: String,
    pub title: String,
    pub layout: String,
    pub host_participant_id: String,
    pub chunk_seconds: u32,
    pub recording_started_at: Option<String>,
    pub recording_stopped_at: Option<String>,
    pub participants: Vec<ParticipantView>,
    pub render: RenderView,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ParticipantView {
    pub participant_id: String,
    pub display_name: String,
    pub role: String,
    pub present: bool,
    pub chunks_stored: u32,
    pub chunks_finished: Option<u32>,
    /// Chunks the server could not read, with why (they count as missing
    /// until sent again).
    pub rejected_chunks: Vec<RejectedChunk>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RejectedChunk {
    pub index: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RenderView {
    /// null, `requested`, `running`, `completed` or `failed`.
    pub status: Option<String>,
    pub percent: Option<f64>,
    /// What the running render is doing (`fetching`, `aligning`, `encoding`, …).
    pub stage: Option<String>,
    pub error: Option<String>,
    /// How far the final video is rendered while the session goes on.
    pub rendered_until_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredChunk {
    pub index: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct ChunkList {
    chunks: Vec<StoredChunk>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomFile {
    pub name: String,
    pub kind: String,
    pub participant_id: Option<String>,
    pub size: u64,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct FileList {
    files: Vec<RoomFile>,
}

enum Body {
    None,
    Json(Value),
    Blob(Blob),
}

async fn send(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Body,
    extra_headers: &[(&str, String)],
) -> Result<Value, ApiError> {
    let headers = Headers::new().map_err(|_| ApiError::Network)?;
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(token) = token {
        let _ = headers.set("Authorization", &format!("Bearer {token}"));
    }
    for (name, value) in extra_headers {
        let _ = headers.set(name, value);
    }
    match body {
        Body::None => {}
        Body::Json(v) => {
            let _ = headers.set("Content-Type", "application/json");
            init.set_body(&JsValue::from_str(&v.to_string()));
        }
        Body::Blob(b) => {
            let _ = headers.set("Content-Type", "video/webm");
            init.set_body(&b);
        }
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(path, &init).map_err(|_| ApiError::Network)?;
    let response: Response = JsFuture::from(window().fetch_with_request(&request))
        .await
        .map_err(|_| ApiError::Network)?
        .unchecked_into();
    let text = match response.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    }
    .unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if response.ok() {
        Ok(json)
    } else {
        let field = |f: &str| json["error"][f].as_str().unwrap_or_default().to_string();
        Err(ApiError::Http {
            status: response.status(),
            code: field("code"),
            message: field("message"),
        })
    }
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
    layout: &str,
    chunk_seconds: u32,
    host_name: &str,
) -> Result<Created, ApiError> {
    let body = serde_json::json!({
        "title": title, "layout": layout, "chunkSeconds": chunk_seconds, "hostName": host_name,
    });
    decode(send("POST", "/api/recordings", None, Body::Json(body), &[]).await?)
}

pub async fn join_with_invite(room: &str, name: &str, invite: &str) -> Result<Joined, ApiError> {
    let body = serde_json::json!({"displayName": name, "inviteToken": invite});
    decode(
        send(
            "POST",
            &format!("/api/recordings/{room}/join"),
            None,
            Body::Json(body),
            &[],
        )
        .await?,
    )
}

pub async fn room(room: &str) -> Result<RoomView, ApiError> {
    decode(
        send(
            "GET",
            &format!("/api/recordings/{room}"),
            None,
            Body::None,
            &[],
        )
        .await?,
    )
}

pub async fn start_recording(room: &str, token: &str) -> Result<(), ApiError> {
    send(
        "POST",
        &format!("/api/recordings/{room}/start"),
        Some(token),
        Body::None,
        &[],
    )
    .await
    .map(|_| ())
}

pub async fn stop_recording(room: &str, token: &str) -> Result<(), ApiError> {
    send(
        "POST",
        &format!("/api/recordings/{room}/stop"),
        Some(token),
        Body::None,
        &[],
    )
    .await
    .map(|_| ())
}

/// Chunk indexes the server has stored for this participant.
pub async fn stored_chunks(
    room: &str,
    participant: &str,
    token: &str,
) -> Result<Vec<u32>, ApiError> {
    let path = format!("/api/recordings/{room}/participants/{participant}/chunks");
    let list: ChunkList = decode(send("GET", &path, Some(token), Body::None, &[]).await?)?;
    Ok(list.chunks.into_iter().map(|c| c.index).collect())
}

/// Stores one chunk; `recording_start_ms` is its recorder's start in server time.
pub async fn put_chunk(
    room: &str,
    participant: &str,
    token: &str,
    index: u32,
    recording_start_ms: f64,
    blob: Blob,
) -> Result<(), ApiError> {
    let path = format!("/api/recordings/{room}/participants/{participant}/chunks/{index}");
    let start = [(
        "Zencast-Recording-Start",
        format!("{}", recording_start_ms.round() as i64),
    )];
    send("PUT", &path, Some(token), Body::Blob(blob), &start)
        .await
        .map(|_| ())
}

pub async fn uploads_complete(
    room: &str,
    participant: &str,
    token: &str,
    chunk_count: u32,
) -> Result<(), ApiError> {
    let body = serde_json::json!({"roomId": room, "participantId": participant, "chunkCount": chunk_count});
    send(
        "POST",
        "/api/uploads/complete",
        Some(token),
        Body::Json(body),
        &[],
    )
    .await
    .map(|_| ())
}

pub async fn files(room: &str, token: &str) -> Result<Vec<RoomFile>, ApiError> {
    let list: FileList = decode(
        send(
            "GET",
            &format!("/api/recordings/{room}/files"),
            Some(token),
            Body::None,
            &[],
        )
        .await?,
    )?;
    Ok(list.files)
}

pub async fn request_render(room: &str, token: &str, layout: &str) -> Result<(), ApiError> {
    let body = serde_json::json!({"layout": layout});
    send(
        "POST",
        &format!("/api/recordings/{room}/render"),
        Some(token),
        Body::Json(body),
        &[],
    )
    .await
    .map(|_| ())
}
