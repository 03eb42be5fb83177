//! The HTTP surface: one module per resource, assembled here with the API documentation and
//! the fallbacks that keep unknown paths and methods in problem+json.

pub(crate) mod guide;
pub(crate) mod health;
pub(crate) mod run;
mod security;
pub(crate) mod v1;

use std::sync::{Arc, OnceLock};

use axum::{
    Router,
    http::{Method, Uri, header},
    response::IntoResponse,
};
use bytes::Bytes;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    access::{Access, ApiRouter, Gate},
    error::ApiError,
    state::AppState,
};

/// The OpenAPI document, served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flowgate",
        description = "Start, watch and read Temporal workflows over REST. Errors are RFC 9457 problem documents (application/problem+json).",
        license(name = "Apache-2.0"),
    ),
    paths(
        health::get_root,
        health::get_livez,
        health::get_readyz,
        guide::create_shopping_workflow,
        guide::create_shopping_workflow_async,
        guide::get_workflow_status,
        guide::get_workflow_result,
        v1::list::list_workflows,
        v1::workflow::get_workflow,
        v1::workflow::get_workflow_result,
        v1::events::workflow_events,
        v1::callbacks::get_callbacks,
        v1::messages::send_signal,
        v1::messages::run_query,
        v1::messages::run_update,
        v1::messages::get_update_result,
        v1::control::cancel_workflow,
        v1::control::terminate_workflow,
    ),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        v1::start::StartIn,
        v1::start::IdReusePolicy,
        v1::start::IdConflictPolicy,
        flowgate_workflows::callbacks::WebhookNotification,
        run::RunOut,
    )),
    tags(
        (name = "shopping", description = "The shopping workflow of the HTTP API guide"),
        (name = "workflows", description = "Status and results of any workflow"),
        (name = "v1", description = "Any registered workflow: start (with a bounded wait and Idempotency-Key), describe, result, signals, queries, updates, cancel, terminate, list, completion webhooks"),
        (name = "health", description = "Health, liveness and readiness"),
    )
)]
pub(crate) struct ApiDoc;

/// The whole OpenAPI document: [`ApiDoc`] plus the registered workflows' paths and schemas,
/// what each route's access means for its security, and the completion webhooks a start may
/// name (OpenAPI `callbacks`).
pub fn openapi() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    v1::openapi::extend(&mut doc);
    security::document(&mut doc, &routes());
    let mut doc = serde_json::to_value(doc).expect("the OpenAPI document serialises");
    v1::openapi::declare_callbacks(&mut doc);
    doc
}

/// `/openapi.json`, serialised once: the document is the same for every request.
static DOCUMENT: OnceLock<Bytes> = OnceLock::new();

fn document() -> Bytes {
    DOCUMENT
        .get_or_init(|| Bytes::from(serde_json::to_vec(&openapi()).expect("JSON values serialise")))
        .clone()
}

async fn get_openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

/// Every route with its access, and the API documentation.
pub(crate) fn routes() -> ApiRouter {
    let router = ApiRouter::new()
        .route(Method::GET, "/openapi.json", Access::Open, get_openapi)
        .open(
            SwaggerUi::new("/docs")
                .config(
                    // Without it, the UI asks swagger.io's online validator about the document's
                    // URL (an image badge) whenever the API is not reached as localhost.
                    utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none"),
                )
                .into(),
        );
    let router = health::routes(router);
    let router = guide::routes(router);
    v1::routes(router)
}

/// Every route over `state`, the guarded ones behind `gate`, with the fallbacks that answer
/// unknown paths and methods. Prepares the OpenAPI document.
pub(crate) fn router(gate: &Arc<Gate>, state: AppState) -> Router {
    document();
    routes()
        .into_router(gate)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    let path = uri.path();
    // The likeliest reason under a workflow's path: an id with a `/` that was not encoded.
    let hint = if path.starts_with("/v1/workflows/") || path.starts_with("/workflows/") {
        " (a workflow id is one path segment: percent-encode any `/` in it as %2F)"
    } else {
        ""
    };
    ApiError::RouteNotFound(format!("{method} {path}{hint}"))
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the documented `path` is served by the route template `template`.
    fn serves(template: &str, path: &str) -> bool {
        let (template, path): (Vec<_>, Vec<_>) =
            (template.split('/').collect(), path.split('/').collect());
        template.len() == path.len()
            && template
                .iter()
                .zip(&path)
                .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
    }

    #[test]
    fn every_documented_operation_is_declared_and_every_guarded_route_documented() {
        let routes = routes();
        let declared: Vec<_> = routes.declared().collect();
        let document = openapi();
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                operations.push((method.to_uppercase(), path.clone()));
            }
        }
        for (method, path) in &operations {
            let route = declared
                .iter()
                .find(|d| d.method.as_str() == method && serves(d.path, path))
                .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
            let open = ["/", "/livez", "/readyz"].contains(&path.as_str());
            assert_eq!(
                route.access == Access::Open,
                open,
                "{method} {path}: {:?}",
                route.access
            );
        }
        for route in &declared {
            if route.access != Access::Open {
                assert!(
                    operations
                        .iter()
                        .any(|(m, p)| m == route.method.as_str() && serves(route.path, p)),
                    "{} {} is guarded but not documented",
                    route.method,
                    route.path
                );
            }
        }
        assert!(declared.len() >= 17, "{declared:?}");
    }
}
