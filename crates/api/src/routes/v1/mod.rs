//! `/v1`: any registered workflow over REST, derived from `flowgate_workflows::registry`.
//!
//! Starts are per registered workflow (`POST /v1/workflow-types/{name}/start`, validated by the
//! registry); everything addressed by workflow id works for any workflow, and checks message
//! arguments when the workflow's type is registered. Workflow ids are one percent-encoded path
//! segment, in paths and in `Location`.

mod body;
pub(crate) mod callbacks;
pub(crate) mod control;
pub(crate) mod events;
mod idempotency;
pub(crate) mod list;
pub(crate) mod messages;
pub(crate) mod openapi;
pub(crate) mod start;
pub(crate) mod wait;
pub(crate) mod workflow;

use axum::http::{HeaderName, HeaderValue, Method};
use flowgate_config::Action;

use crate::{
    access::{Access, ApiRouter, On},
    routes::run::workflow_path,
};

/// `Idempotent-Replayed`: whether an `Idempotency-Key` request returned an earlier run.
pub(crate) const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// `/v1` routes, each with the permission it needs.
pub(crate) fn routes(router: ApiRouter) -> ApiRouter {
    use Action::{Control, Message, Read, Start};
    let on_id = |action| Access::Requires(action, On::IdInPath);
    let on_run = Access::Requires(Read, On::RunInPath);
    let workflow = "/v1/workflows/{workflow_id}";
    let start = Access::Requires(Start, On::NamedInPath);
    router
        .route(
            Method::GET,
            "/v1/workflows",
            Access::Requires(Read, On::Every),
            list::list_workflows,
        )
        .route(
            Method::POST,
            "/v1/workflow-types/{name}/start",
            start,
            start::start_workflow,
        )
        // The start's earlier path, kept as an alias (one template per position: here the
        // `{workflow_id}` segment is a workflow name).
        .route(Method::POST, workflow, start, start::start_workflow)
        .route(Method::GET, workflow, on_run, workflow::get_workflow)
        .route(
            Method::GET,
            "/v1/workflows/{workflow_id}/result",
            on_run,
            workflow::get_workflow_result,
        )
        .route(
            Method::GET,
            "/v1/workflows/{workflow_id}/events",
            on_run,
            events::workflow_events,
        )
        .route(
            Method::GET,
            "/v1/workflows/{workflow_id}/callbacks",
            on_run,
            callbacks::get_callbacks,
        )
        .route(
            Method::POST,
            "/v1/workflows/{workflow_id}/signals/{name}",
            on_id(Message),
            messages::send_signal,
        )
        .route(
            Method::POST,
            "/v1/workflows/{workflow_id}/queries/{name}",
            on_id(Message),
            messages::run_query,
        )
        .route(
            Method::POST,
            "/v1/workflows/{workflow_id}/updates/{name}",
            on_id(Message),
            messages::run_update,
        )
        .route(
            Method::GET,
            "/v1/workflows/{workflow_id}/updates/{name}/{update_id}",
            on_id(Message),
            messages::get_update_result,
        )
        .route(
            Method::POST,
            "/v1/workflows/{workflow_id}/cancel",
            on_id(Control),
            control::cancel_workflow,
        )
        .route(
            Method::POST,
            "/v1/workflows/{workflow_id}/terminate",
            on_id(Control),
            control::terminate_workflow,
        )
}

/// `/v1/workflows/{id}{suffix}` with the id percent-encoded as one path segment.
pub(crate) fn workflow_location(workflow_id: &str, suffix: &str) -> HeaderValue {
    workflow_path("/v1/workflows", workflow_id, suffix)
}
