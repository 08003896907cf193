//! The web client (`web/`, built by `scripts/build-web.sh`) at `/`: its files,
//! and `index.html` for the client's own routes (`/join/…`, `/studio/…`,
//! `/finish/…`, `/setup`, `/signin`, `/dashboard`), which the client then draws. Anything under `/api/` that no
//! route matched stays a JSON 404.

use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// The fallback of the whole router.
pub async fn serve(State(app): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let is_api = path.starts_with("/api/") || path == "/healthz" || path == "/metrics";
    if is_api || (method != Method::GET && method != Method::HEAD) {
        return ApiError::NotFound("no such route".into()).into_response();
    }
    let Some(relative) = safe_relative(path) else {
        return ApiError::NotFound("no such file".into()).into_response();
    };
    let dir = &app.settings.web_dir;
    if !relative.is_empty() {
        if let Ok(body) = tokio::fs::read(dir.join(&relative)).await {
            return file(content_type(&relative), body);
        }
        // A missing file is a 404; anything else is a client route.
        if relative
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
        {
            return ApiError::NotFound(format!("no file {relative}")).into_response();
        }
    }
    match tokio::fs::read(dir.join("index.html")).await {
        Ok(body) => file("text/html; charset=utf-8", body),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "The web client is not built: run scripts/build-web.sh (looked in {}).\n",
                dir.display()
            ),
        )
            .into_response(),
    }
}

/// The request path without its leading slash, or None if it could leave the
/// web directory (`..`, empty or hidden segments, backslashes).
fn safe_relative(path: &str) -> Option<String> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return Some(String::new());
    }
    let ok = trimmed
        .split('/')
        .all(|seg| !seg.is_empty() && !seg.starts_with('.') && !seg.contains('\\'));
    ok.then(|| trimmed.to_string())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn file(content_type: &'static str, body: Vec<u8>) -> Response {
    // File names carry no content hash, so the browser checks back each time.
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_relative;

    #[test]
    fn paths_cannot_leave_the_web_directory() {
        assert_eq!(safe_relative("/").as_deref(), Some(""));
        assert_eq!(
            safe_relative("/snippets/a/inline0.js").as_deref(),
            Some("snippets/a/inline0.js")
        );
        assert_eq!(safe_relative("/../etc/passwd"), None);
        assert_eq!(safe_relative("/a/../../b"), None);
        assert_eq!(safe_relative("/.env"), None);
        assert_eq!(safe_relative("/a//b"), None);
        assert_eq!(safe_relative("/a\\..\\b"), None);
    }
}
