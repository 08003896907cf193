//! Host accounts at the api's edge: passwords (argon2), API keys, the sign-in
//! cookie, and who is signed in.
//!
//! A host proves itself with the `zencast_host` cookie (the web client; set by
//! `/api/signin`, HttpOnly, SameSite=Strict, Secure wherever the browser
//! allows it) or with `Authorization: Bearer zc_…`, its API key (scripts).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::Utc;
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};
use zencast_eventlog::hosts::{self, Actor, HostLogError};
use zencast_events::host::{check_password, Host, HostEvent};
use zencast_events::protocol::HostView;
use zencast_events::HostId;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::HOST_SESSION_DAYS;

pub const COOKIE_NAME: &str = "zencast_host";
const API_KEY_PREFIX: &str = "zc_";

/// The argon2id PHC string of `password` (the crate's default parameters,
/// OWASP's minimum: 19 MiB, 2 passes). The salt is 16 random bytes.
pub fn hash_password(password: &str) -> String {
    let salt =
        SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A new API key for `host` and the hash the log keeps. The key names its
/// host (so a check needs one account's events, not a scan) and carries 244
/// random bits.
pub fn new_api_key(host: HostId) -> (String, String) {
    let mut secret = uuid::Uuid::new_v4().as_bytes().to_vec();
    secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    let key = format!(
        "{API_KEY_PREFIX}{}_{}",
        host.as_uuid().simple(),
        B64.encode(secret)
    );
    let hash = api_key_hash(&key);
    (key, hash)
}

/// Hex SHA-256 of the key: the key is random, so no slow hash is needed.
pub fn api_key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn api_key_host(key: &str) -> Option<HostId> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (id, _) = rest.split_once('_')?;
    uuid::Uuid::try_parse(id).ok().map(HostId::from)
}

/// Adds an account (`first_only`: only while none is active), for the
/// first-run set-up and `zencast hosts add`; returns its id and API key.
pub async fn add_account(
    pool: &sqlx::PgPool,
    email: String,
    password: &str,
    first_only: bool,
    actor: Actor,
) -> Result<(HostId, String), HostLogError> {
    check_password(password)?;
    // The key names its host, so the id is chosen before the account exists.
    let id = HostId::new();
    let (api_key, api_key_hash) = new_api_key(id);
    let added = HostEvent::HostAdded {
        email,
        password_hash: hash_password(password),
        api_key_hash,
    };
    hosts::add(pool, id, added, first_only, actor).await?;
    Ok((id, api_key))
}

/// A signed-in host (cookie or API key).
#[derive(Debug, Clone)]
pub struct SignedInHost {
    pub id: HostId,
    pub host: Host,
}

impl SignedInHost {
    pub fn view(&self) -> HostView {
        HostView {
            host_id: self.id,
            email: self.host.email.clone(),
        }
    }

    /// The actor of events this host causes.
    pub fn actor(&self) -> String {
        format!("host:{}", self.id)
    }
}

/// The host signed in on this request, if any. An API key that does not
/// check out is refused (401); a stale or foreign cookie just means "not
/// signed in", so an old cookie never locks anyone out of the sign-in page.
pub async fn signed_in(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SignedInHost>, ApiError> {
    if let Some(key) = bearer_api_key(headers) {
        let refused = || ApiError::Unauthorized("the API key is not valid".into());
        let id = api_key_host(key).ok_or_else(refused)?;
        let host = hosts::load(&app.pool, id).await?.ok_or_else(refused)?;
        if !host.active() || host.api_key_hash != api_key_hash(key) {
            return Err(refused());
        }
        return Ok(Some(SignedInHost { id, host }));
    }
    let Some(value) = cookie_value(headers) else {
        return Ok(None);
    };
    let Ok((id, issued)) = app.tokens.verify_host_session(&value, Utc::now()) else {
        return Ok(None);
    };
    Ok(hosts::load(&app.pool, id)
        .await?
        .filter(|host| host.session_valid(issued))
        .map(|host| SignedInHost { id, host }))
}

/// `Authorization: Bearer zc_…` (participant tokens never start so).
pub fn bearer_api_key(headers: &HeaderMap) -> Option<&str> {
    crate::auth::bearer(headers).filter(|t| t.starts_with(API_KEY_PREFIX))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value().to_string())
}

/// The `Set-Cookie` of a new sign-in. `Secure` everywhere but plain http to
/// another machine, where a browser would drop the cookie (the operator is
/// warned at start to put TLS in front).
pub fn session_cookie(app: &AppState, host: HostId) -> HeaderValue {
    let value = app.tokens.host_session(host, Utc::now());
    let cookie = Cookie::build((COOKIE_NAME, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(&app.settings.public_url))
        .max_age(cookie::time::Duration::days(HOST_SESSION_DAYS))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie text is a valid header")
}

/// The `Set-Cookie` that ends the sign-in in this browser.
pub fn cleared_cookie(app: &AppState) -> HeaderValue {
    let cookie = Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(&app.settings.public_url))
        .max_age(cookie::time::Duration::ZERO)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie text is a valid header")
}

/// Browsers keep `Secure` cookies over https and on loopback addresses only.
pub fn secure_cookies(public_url: &str) -> bool {
    let rest = public_url.strip_prefix("http://");
    rest.is_none_or(|rest| {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        matches!(host, "localhost" | "127.0.0.1")
    })
}

impl FromRequestParts<AppState> for SignedInHost {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        signed_in(app, &parts.headers)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("sign in as a host first".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "correct horse battery"));
    }

    #[test]
    fn api_keys_name_their_host_and_hash_stably() {
        let host = HostId::from(uuid::Uuid::new_v4());
        let (key, hash) = new_api_key(host);
        assert_eq!(api_key_host(&key), Some(host));
        assert_eq!(api_key_hash(&key), hash);
        assert_ne!(new_api_key(host).0, key);
        assert_eq!(api_key_host("zc_nothex_abc"), None);
    }

    #[test]
    fn cookies_are_secure_except_on_plain_http_to_another_machine() {
        assert!(secure_cookies("https://studio.example.org"));
        assert!(secure_cookies("http://127.0.0.1:8080"));
        assert!(secure_cookies("http://localhost:8080/"));
        assert!(!secure_cookies("http://192.168.1.20:8080"));
    }
}
