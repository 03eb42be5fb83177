//! `GET /` (the guide's health check), `/livez` and `/readyz` (probes).

use axum::{Json, extract::State, http::Method};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    access::{Access, ApiRouter},
    error::ApiError,
    state::AppState,
};

/// Name reported by `GET /`, as in the guide.
pub(crate) const SERVICE_NAME: &str = "Temporal Workflow API";

/// Health routes: open to anyone, never limited (probes must answer under load).
pub(crate) fn routes(router: ApiRouter) -> ApiRouter {
    router
        .route(Method::GET, "/", Access::Open, get_root)
        .route(Method::GET, "/livez", Access::Open, get_livez)
        .route(Method::GET, "/readyz", Access::Open, get_readyz)
}

/// The guide's health check.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RootOut {
    /// Always "Temporal Workflow API".
    #[schema(example = "Temporal Workflow API")]
    pub service: &'static str,
    /// Always "running" while the process serves requests.
    #[schema(example = "running")]
    pub status: &'static str,
    /// Whether Temporal answered the last reachability check.
    pub temporal_connected: bool,
}

/// Probe answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProbeOut {
    /// "ok" (liveness) or "ready" (readiness).
    #[schema(example = "ready")]
    pub status: &'static str,
}

/// Is the API running, and is Temporal connected?
#[utoipa::path(get, path = "/", tag = "health",
    responses((status = 200, description = "The API is running", body = RootOut)))]
pub(crate) async fn get_root(State(state): State<AppState>) -> Json<RootOut> {
    Json(RootOut {
        service: SERVICE_NAME,
        status: "running",
        temporal_connected: state.link.is_up(),
    })
}

/// Liveness: the process serves HTTP. Never depends on Temporal, so an outage does not get
/// the API restarted.
#[utoipa::path(get, path = "/livez", tag = "health",
    responses((status = 200, description = "The process is alive", body = ProbeOut)))]
pub(crate) async fn get_livez() -> Json<ProbeOut> {
    Json(ProbeOut { status: "ok" })
}

/// Readiness: this process can serve — true while Temporal is connecting or unreachable too
/// (then the API answers 503 problem+json with `Retry-After` itself, instead of a load balancer
/// with no pod left answering its own page); false only while draining after SIGTERM. Whether
/// Temporal is reachable is `temporal_connected` on `GET /` and the `flowgate_temporal_up` metric.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "This process serves requests (whether or not Temporal is reachable: see `GET /`)", body = ProbeOut),
        (status = 503, description = "Shutting down: draining after SIGTERM", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_readyz(State(state): State<AppState>) -> Result<Json<ProbeOut>, ApiError> {
    if state.is_draining() {
        return Err(ApiError::NotReady("shutting down".to_owned()));
    }
    // Temporal's state is deliberately not consulted: were every pod unready during an outage,
    // the Service would empty and clients would get the ingress's page, not a 503 problem
    // document with Retry-After.
    Ok(Json(ProbeOut { status: "ready" }))
}
