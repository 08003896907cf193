//! Headers on every response, against the browser-side attacks a studio on
//! the public internet meets: sniffed content types, invite tokens leaking
//! through `Referer`, the studio framed by another site (clickjacking), and
//! script injected into the page.

use axum::http::header::{
    HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::Response;

/// The web client's Content-Security-Policy. Scripts and everything they
/// fetch come from this origin only (`connect-src 'self'` covers the room's
/// WebSocket). `'wasm-unsafe-eval'` lets the page compile its own wasm (and
/// nothing else: no `eval`; the browser tests fail on any violation); inline
/// styles because Dioxus sets `style` attributes. Camera previews and
/// recordings are `blob:` and `mediastream:`.
pub const CONTENT_SECURITY: &str = "default-src 'self'; \
    script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; \
    media-src 'self' blob: mediastream:; \
    connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers to `response` (a `map_response` middleware).
pub async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Invite and studio links carry tokens: never send them elsewhere.
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
