//! `GET /api/openapi.json`: the API description, generated from the handlers'
//! and types' annotations (utoipa), so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{chunks, people, recordings, renders, uploads};
use crate::state::AppState;
use zencast_events::protocol::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(title = "Zencast", description = "Self-hosted podcast and video recording studio. WebSocket: GET /api/recordings/{roomId}/ws?token=… (see README)."),
    paths(
        recordings::create, recordings::show, recordings::events, recordings::join,
        recordings::start, recordings::stop, people::renew_invite, people::revoke_invite,
        people::remove, chunks::upload, chunks::list, uploads::complete,
        renders::request, renders::list, renders::download,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "participant_token",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
