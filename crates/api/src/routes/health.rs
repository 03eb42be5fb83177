//! `GET /` (the guide's health check), `/livez` and `/readyz` (probes).

use axum::{Json, extract::State, http::Method};
use flowgate_temporal::LinkState;
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

/// Readiness: Temporal answers and the process is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready for traffic", body = ProbeOut),
        (status = 503, description = "Temporal unreachable or shutting down", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_readyz(State(state): State<AppState>) -> Result<Json<ProbeOut>, ApiError> {
    if state.is_draining() {
        return Err(ApiError::NotReady("shutting down".to_owned()));
    }
    // Where Temporal is and why it cannot be reached are for the log (the link writes both
    // there on every failed attempt and change of state), not for whoever asks this probe.
    match state.link.state() {
        LinkState::Up => Ok(Json(ProbeOut { status: "ready" })),
        LinkState::Connecting { .. } => {
            Err(ApiError::NotReady("connecting to Temporal".to_owned()))
        }
        LinkState::Down { .. } => Err(ApiError::NotReady("Temporal is unreachable".to_owned())),
    }
}
