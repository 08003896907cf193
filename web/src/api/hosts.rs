//! The host's own requests: the first-run set-up, signing in and out, the
//! dashboard of recordings, deleting and rendering again. No token goes with
//! them: the browser sends the `zencast_host` cookie the api set at sign-in.

use gloo_net::http::Method;
use zencast_events::protocol::{
    Dashboard, Me, RenderRequest, RoomView, SetupRequest, SignInRequest, SignedIn,
};
use zencast_events::{Layout, RoomId};

use super::{decode, send, ApiError, Body};

/// How the api admits hosts, and who is signed in in this browser.
pub async fn me() -> Result<Me, ApiError> {
    decode(send(Method::GET, "/api/me", None, Body::None, &[]).await?)
}

/// The first host account, with the token of the console's first-run link.
pub async fn setup(token: &str, email: &str, password: &str) -> Result<SignedIn, ApiError> {
    let body = Body::json(&SetupRequest {
        token: token.into(),
        email: email.into(),
        password: password.into(),
    });
    decode(send(Method::POST, "/api/setup", None, body, &[]).await?)
}

pub async fn sign_in(email: &str, password: &str) -> Result<SignedIn, ApiError> {
    let body = Body::json(&SignInRequest {
        email: email.into(),
        password: password.into(),
    });
    decode(send(Method::POST, "/api/signin", None, body, &[]).await?)
}

pub async fn sign_out() -> Result<(), ApiError> {
    send(Method::POST, "/api/signout", None, Body::None, &[])
        .await
        .map(|_| ())
}

/// The signed-in host's recordings, newest first, with signed download links.
pub async fn dashboard() -> Result<Vec<RoomView>, ApiError> {
    let list: Dashboard =
        decode(send(Method::GET, "/api/me/recordings", None, Body::None, &[]).await?)?;
    Ok(list.recordings)
}

/// Deletes a recording of the signed-in host: its files go, its log stays.
pub async fn delete_recording(room: RoomId) -> Result<(), ApiError> {
    let path = format!("/api/recordings/{room}");
    send(Method::DELETE, &path, None, Body::None, &[])
        .await
        .map(|_| ())
}

/// Renders a completed recording again, in `layout` (None: the room's own).
pub async fn rerender(room: RoomId, layout: Option<Layout>) -> Result<(), ApiError> {
    let body = Body::json(&RenderRequest { layout });
    let path = format!("/api/recordings/{room}/render");
    send(Method::POST, &path, None, body, &[]).await.map(|_| ())
}

/// What the host was doing when the api refused: the same status means
/// different things on different pages (a 401 at sign-in is a wrong
/// password, on the dashboard a sign-in that ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStep {
    Setup,
    SignIn,
    /// Anything done signed in: the dashboard, creating a session.
    SignedIn,
}

impl ApiError {
    /// What to tell a host, in words.
    pub fn for_host(&self, step: HostStep) -> String {
        let ApiError::Http {
            status,
            code,
            message,
        } = self
        else {
            return "Zencast can't reach the server. Check your connection and try again.".into();
        };
        match (*status, code.as_str(), step) {
            (401, _, HostStep::Setup) => {
                "This set-up link has expired or is not valid. Restart zencast: it prints a new one."
                    .into()
            }
            (401, _, HostStep::SignIn) => "Wrong e-mail address or password.".into(),
            (401, _, HostStep::SignedIn) => "You are signed out. Sign in again.".into(),
            (409, "already_set_up", _) => "An account already exists: sign in instead.".into(),
            (409, "email_taken", _) => {
                "An account with this e-mail address already exists.".into()
            }
            (400, "bad_email" | "weak_password", _) => sentence(message),
            (403, quota, _) if quota.starts_with("quota_") => sentence(message),
            (409, "still_recording", _) => {
                "This session is still recording: stop it in the studio first.".into()
            }
            (409, "render", _) => format!(
                "It cannot be rendered again now: {}",
                sentence(message)
            ),
            (404 | 410, _, HostStep::SignedIn) => "This recording no longer exists.".into(),
            _ => self.plain(),
        }
    }
}

/// The api's messages are lower-case clauses; a page shows them as sentences.
pub(super) fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut text: String = first.to_uppercase().chain(chars).collect();
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}
