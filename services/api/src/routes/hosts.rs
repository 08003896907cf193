//! Host accounts: the first-run set-up, signing in and out, who is signed in,
//! and the dashboard of a host's recordings.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use zencast_eventlog::hosts::{self, Actor};
use zencast_events::host::{normalize_email, HostEvent};
use zencast_events::protocol::{
    Dashboard, ErrorBody, HostView, Me, RoomStatus, SetupRequest, SignInRequest, SignedIn,
};
use zencast_projections::fresh::read_fresh;
use zencast_projections::RoomState;

use crate::accounts::{
    add_account, cleared_cookie, hash_password, session_cookie, signed_in, verify_password,
    SignedInHost,
};
use crate::auth::token_error;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::renders;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/setup", post(setup))
        .route("/api/signin", post(sign_in))
        .route("/api/signout", post(sign_out))
        .route("/api/me", get(me))
        .route("/api/me/recordings", get(dashboard))
}

#[utoipa::path(post, path = "/api/setup", tag = "hosts", request_body = SetupRequest,
    responses((status = 201, body = SignedIn, description = "The first host account, signed in (cookie); its API key is shown once"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "The first-run link is not valid or expired"),
        (status = 409, body = ErrorBody, description = "`already_set_up`: an account exists")))]
/// `POST /api/setup`: the first host account, with the one-time token of the
/// link the console printed. Works only while no account exists.
async fn setup(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<SetupRequest>,
) -> Result<impl IntoResponse, ApiError> {
    app.tokens
        .verify_setup_token(&req.token, Utc::now())
        .map_err(token_error)?;
    let email = normalize_email(&req.email).map_err(hosts::HostLogError::from)?;
    let (id, api_key) =
        add_account(&app.pool, email.clone(), &req.password, true, Actor::Setup).await?;
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(header::SET_COOKIE, session_cookie(&app, id))]),
        Json(SignedIn {
            host: HostView { host_id: id, email },
            api_key: Some(api_key),
        }),
    ))
}

#[utoipa::path(post, path = "/api/signin", tag = "hosts", request_body = SignInRequest,
    responses((status = 200, body = SignedIn, description = "Signed in: the `zencast_host` cookie is set"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "Wrong e-mail address or password")))]
/// `POST /api/signin`: sets the sign-in cookie.
async fn sign_in(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<SignInRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let wrong = || ApiError::Unauthorized("wrong e-mail address or password".into());
    let Ok(email) = normalize_email(&req.email) else {
        return Err(wrong());
    };
    let found = hosts::find_by_email(&app.pool, &email).await?;
    // Without an account, a hash is still checked, so the answer takes as
    // long and does not tell which addresses have one.
    let hash = found
        .as_ref()
        .map_or(UNKNOWN_ACCOUNT_HASH.as_str(), |(_, h)| {
            h.password_hash.as_str()
        })
        .to_string();
    let password = req.password.clone();
    let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    let Some((id, host)) = found.filter(|_| matches) else {
        return Err(wrong());
    };
    Ok((
        AppendHeaders([(header::SET_COOKIE, session_cookie(&app, id))]),
        Json(SignedIn {
            host: HostView {
                host_id: id,
                email: host.email,
            },
            api_key: None,
        }),
    ))
}

/// A hash no password matches in practice, checked when no account has the address.
static UNKNOWN_ACCOUNT_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&uuid::Uuid::new_v4().to_string()));

#[utoipa::path(post, path = "/api/signout", tag = "hosts",
    responses((status = 204, description = "Signed out: every sign-in of this account made before now ends")))]
/// `POST /api/signout`: `HostSignedOut` (ending this account's sign-ins in
/// every browser) and the cookie cleared. Signed out already: just the latter.
async fn sign_out(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(host) = signed_in(&app, &headers).await? {
        let out = HostEvent::HostSignedOut { at: Utc::now() };
        hosts::append(&app.pool, host.id, out, Actor::Host(host.id)).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(header::SET_COOKIE, cleared_cookie(&app))]),
    ))
}

#[utoipa::path(get, path = "/api/me", tag = "hosts",
    responses((status = 200, body = Me)))]
/// `GET /api/me`: how this api admits hosts, and who is signed in.
async fn me(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    let host = signed_in(&app, &headers).await?;
    let needs_setup = host.is_none() && !hosts::any_active(&app.pool).await?;
    Ok(Json(Me {
        auth: app.settings.auth,
        host: host.map(|h| h.view()),
        needs_setup,
    }))
}

#[utoipa::path(get, path = "/api/me/recordings", tag = "hosts",
    security(("host_sign_in" = [])),
    responses((status = 200, body = Dashboard), (status = 401, body = ErrorBody)))]
/// `GET /api/me/recordings`: the signed-in host's recordings, newest first.
async fn dashboard(
    State(app): State<AppState>,
    host: SignedInHost,
) -> Result<Json<Dashboard>, ApiError> {
    let state = RoomState::new(app.redis.clone(), app.prefix());
    let mut recordings = Vec::new();
    for room in hosts::rooms_of(&app.pool, host.id).await? {
        let Some(mut view) = read_fresh(&app.pool, &state, room).await? else {
            continue;
        };
        if view.status == RoomStatus::Deleted {
            continue;
        }
        renders::sign_links(&app, room, &mut view.render.files);
        recordings.push(view);
    }
    Ok(Json(Dashboard { recordings }))
}
