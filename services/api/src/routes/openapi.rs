//! `GET /api/openapi.json`: the API description, generated from the handlers'
//! and types' annotations (utoipa), so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes::{chunks, hosts, people, recordings, renders, uploads};
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
        recordings::delete_recording, hosts::setup, hosts::sign_in, hosts::sign_out,
        hosts::me, hosts::dashboard,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerToken, &CommonErrors)
)]
pub struct ApiDoc;

/// The answers every route can give besides its own: 400 for an id, query or
/// body that does not parse, 503 when Postgres, Redis, NATS or the store is
/// down, where a token is asked for, 401 (none, expired or forged) and 403
/// (another room's, not the host's, or removed), and on a room's routes 410
/// (the recording was deleted). Added once here rather
/// than on each handler, where one was always missing somewhere.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let error = |what: &str| {
            let body = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            ResponseBuilder::new()
                .description(what)
                .content("application/json", body)
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let of_a_room = path.starts_with("/api/recordings/{roomId}");
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let mut common = vec![
                    ("400", "An id, query or body that does not parse"),
                    ("503", "A backend is unavailable; retry shortly"),
                ];
                if op.security.is_some() {
                    common.push(("401", "No token, or an expired or forged one"));
                    common.push(("403", "Another room's token, not the host's, or removed"));
                }
                if of_a_room {
                    common.push(("410", "`deleted`: the host deleted this recording"));
                }
                for (status, what) in common {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(what).into());
                }
            }
        }
    }
}

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "participant_token",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        // A host: the sign-in cookie, or its API key as a Bearer token.
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "host_sign_in",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                    crate::accounts::COOKIE_NAME,
                ))),
            );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
