//! The JSON API under `/api/v1`: its routes and its OpenAPI document come from the same list, so
//! the document cannot miss an endpoint or name one that is not served.

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::{AppState, MAX_JSON_BODY};

pub mod accounts;
pub mod cases;
pub mod docs;
pub mod geography;
pub mod idempotency;
pub mod indicators;
pub mod open311;
pub mod rankings;
pub mod webhooks;

use accounts::{access_log, auth};
use cases::{events, import, lists, photos};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pingan API",
        description = "Grid-based community governance: report local matters, route them to the unit that must \
                       handle them, and follow them to closure. Every error answers with one JSON shape: a stable \
                       `code` and a Chinese and an English message. Times are milliseconds since the Unix epoch.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&Credentials),
    tags(
        (name = "cases", description = "Reports, their lifecycle, lists and exports"),
        (name = "accounts", description = "Logging in, tokens, accounts and the access log"),
        (name = "geography", description = "Divisions, grids, categories and units"),
        (name = "indicators", description = "考核指标: the figures of a place or a unit for a span of months"),
        (name = "webhooks", description = "Subscriptions that POST every action on a unit's cases to another system"),
    )
)]
struct Document;

/// How callers prove who they are.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("A token from POST /api/v1/auth/tokens (`pa_…`), or a web session's cookie"))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let follow = ApiKeyValue::with_description("X-Follow-Token", "The secret given to a reporter with the case");
        components.add_security_scheme("follow_token", SecurityScheme::ApiKey(ApiKey::Header(follow)));
    }
}

/// The refusals any operation may answer whatever it does: a body that is too large or not JSON
/// (every operation with a body), credentials that are refused (every operation that takes them),
/// a session cookie without its CSRF token (every such operation that changes something).
struct CommonRefusals;

impl Modify for CommonRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let refusal = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if let Some(post) = item.post.as_mut().filter(|_| crate::api::idempotency::keeps_answers(path)) {
                post.parameters.get_or_insert_with(Vec::new).push(RefOr::T(idempotency_key()));
                let responses = &mut post.responses.responses;
                for (status, description) in [
                    ("400", "The Idempotency-Key is not 1 to 200 visible ASCII characters"),
                    ("409", "A request with this Idempotency-Key is still being answered"),
                    ("422", "This Idempotency-Key was used for another request"),
                ] {
                    responses.entry(status.to_owned()).or_insert_with(|| RefOr::T(refusal(description)));
                }
            }
            let operations = [
                (false, &mut item.get),
                (true, &mut item.post),
                (true, &mut item.put),
                (true, &mut item.patch),
                (true, &mut item.delete),
            ];
            for (changes, operation) in operations.into_iter().filter_map(|(c, o)| Some((c, o.as_mut()?))) {
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses.entry(status.to_owned()).or_insert_with(|| RefOr::T(refusal(description)));
                };
                if operation.request_body.is_some() {
                    add("413", "The body is larger than accepted");
                    add("415", "The body is not of the type accepted");
                }
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add("401", "The token or session is unknown, expired or revoked");
                    if changes {
                        add("403", "A session cookie without its X-CSRF-Token, or not this account's to do");
                    }
                }
            }
        }
    }
}

/// The optional `Idempotency-Key` header of a POST that keeps its answers.
fn idempotency_key() -> Parameter {
    let text = ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[!-~]{1,200}$")).build();
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "A retry with the same key (per account, for 24 hours) gets the first answer again, \
             marked Idempotent-Replayed: true, instead of doing the work twice",
        ))
        .schema(Some(text))
        .build()
}

/// The API's routes (for the state to be given later) and its OpenAPI document.
pub fn routes() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, document) = OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(crate::route_point))
        .routes(routes!(geography::division))
        .routes(routes!(geography::division_geojson))
        .routes(routes!(geography::grid))
        .routes(routes!(geography::categories))
        .routes(routes!(geography::units))
        .routes(routes!(cases::create_case, lists::list))
        .routes(routes!(lists::count))
        .routes(routes!(lists::export))
        .routes(routes!(cases::get_case))
        .routes(routes!(events::stream))
        .routes(routes!(cases::act_on_case))
        .routes(routes!(cases::case_history))
        .routes(routes!(cases::reveal_reporter))
        .routes(routes!(photos::download))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::create_token, auth::list_tokens))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(auth::me))
        .routes(routes!(access_log::read))
        .routes(routes!(accounts::create, accounts::list))
        .routes(routes!(accounts::reset_password))
        .routes(routes!(accounts::disable))
        .routes(routes!(accounts::enable))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::remove))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(indicators::read))
        .routes(routes!(rankings::read))
        .routes(routes!(rankings::set_weights))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        // Photos and imports have their own, larger limits.
        .routes(routes!(photos::upload).layer(DefaultBodyLimit::max(pingan_app::cases::photos::MAX_PHOTO_BYTES)))
        .routes(routes!(import::import).layer(DefaultBodyLimit::max(import::MAX_IMPORT_BODY)))
        .split_for_parts();
    let mut document = document;
    // After the routes: it looks at every operation.
    CommonRefusals.modify(&mut document);
    // Serialised once: the document does not change while the server runs. (It holds no map with
    // a non-text key, so serialising cannot fail; the HTTP tests compare what is served.)
    let served = Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
    let router = router.route(
        "/api/v1/openapi.json",
        get(move || async move { ([(CONTENT_TYPE, "application/json")], served.clone()) }),
    );
    (router, document)
}

/// The OpenAPI document of the API, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_matches_its_snapshot() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let written = std::fs::read_to_string(path).unwrap_or_default();
        let generated = format!("{}\n", openapi().to_pretty_json().unwrap_or_default());
        assert!(
            written == generated,
            "docs/openapi.json is stale: run `pingan openapi > docs/openapi.json` and review"
        );
    }

    #[test]
    fn operations_are_named_once_and_documented() {
        let document = serde_json::to_value(openapi()).unwrap_or_default();
        assert_eq!(document["openapi"], "3.1.0");
        let mut names = std::collections::HashSet::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(names.insert(id.to_owned()), "{method} {path}: operation id {id} used twice");
                assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no summary");
                assert!(operation["tags"][0].is_string(), "{method} {path} has no tag");
            }
        }
        assert!(names.len() >= 24, "{names:?}");
    }
}
