//! The HTTP API guide's routes, as thin adapters over the `/v1` core: `POST /workflows/shopping`
//! (start and wait), `POST /workflows/shopping/async`, `GET /workflows/{workflow_id}/status` and
//! `/result`. They start, describe and wait exactly as `/v1` does (one start, one describe, one
//! result wait, one validation with the deployment's limits, `Idempotency-Key` and `?wait` /
//! `Prefer: wait` included); only their bodies are the guide's.

use std::time::Duration;

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, HeaderValue, Method},
    response::{IntoResponse, Response},
};
use flowgate_config::Action;
use flowgate_workflows::{registry::registry, shopping};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::{
    access::{Access, ApiRouter, On},
    auth::Principal,
    error::{ApiError, Problem},
    extract::{ApiJson, WorkflowIdPath},
    routes::{
        run::{RunOut, RunStatus, rfc3339, status_name, workflow_path},
        v1::{
            start::{self, IdReusePolicy, StartIn, StartRequest},
            wait::WaitPreference,
            workflow::{ResultRequest, result},
        },
    },
    state::AppState,
};

/// The guide's routes: starting needs `start` on the shopping workflow, reading needs `read` on
/// the workflow's type.
pub(crate) fn routes(router: ApiRouter) -> ApiRouter {
    let start = Access::Requires(Action::Start, On::Workflow(shopping::NAME));
    let read = Access::Requires(Action::Read, On::IdInPath);
    router
        .route(
            Method::POST,
            "/workflows/shopping",
            start,
            create_shopping_workflow,
        )
        .route(
            Method::POST,
            "/workflows/shopping/async",
            start,
            create_shopping_workflow_async,
        )
        .route(
            Method::GET,
            "/workflows/{workflow_id}/status",
            read,
            get_workflow_status,
        )
        .route(
            Method::GET,
            "/workflows/{workflow_id}/result",
            read,
            get_workflow_result,
        )
}

/// A shopping list, as in the guide, and optionally your own workflow id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}))]
pub(crate) struct ShoppingIn {
    /// What to order, in order: 1 to `shopping.max_items` (100) items, each amount 1 to
    /// `shopping.max_amount` (10000).
    #[schema(value_type = Vec<shopping::ShoppingItem>)]
    pub items: Value,
    /// Your own workflow id (optional). Ids are never reused: a second start with the same id
    /// is a 409. Without one, `shopping-workflow-<uuid>` is generated (or, with an
    /// `Idempotency-Key`, derived from the key).
    #[serde(default)]
    pub workflow_id: Option<String>,
}

/// The one start, with the guide's body: the items are the shopping workflow's input, and a
/// chosen id is never reused.
async fn start_shopping(
    state: &AppState,
    principal: Option<Extension<Principal>>,
    headers: &HeaderMap,
    body: ShoppingIn,
    wait: Duration,
) -> Result<start::Started, ApiError> {
    let def = registry()
        .get(shopping::NAME)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("shopping is not registered")))?;
    let principal = principal.map(|Extension(p)| p);
    let chosen = body.workflow_id.is_some();
    let request = StartRequest {
        def,
        principal: principal.as_ref(),
        key: start::idempotency_key(headers)?,
        body: StartIn {
            input: json!({ "items": body.items }),
            workflow_id: body.workflow_id,
            memo: None,
            search_attributes: None,
            start_delay: None,
            id_reuse_policy: chosen.then_some(IdReusePolicy::RejectDuplicate),
            id_conflict_policy: None,
            signal: None,
            update: None,
            callbacks: None,
        },
        input_at: "",
        wait,
    };
    // Boxed: the start's state machine is large, and a handler's future lives on the stack.
    Box::pin(start::start(state, request)).await
}

/// Start a shopping workflow and wait for its result (up to `api.result_wait`, or as long as
/// `?wait` / `Prefer: wait` asks). Answers 202 with status `running` if it has not finished by
/// then. With an `Idempotency-Key`, a retry returns the first request's run instead of ordering
/// twice.
#[utoipa::path(post, path = "/workflows/shopping", tag = "shopping",
    params(
        ("wait" = Option<String>, Query, pattern = r"^([0-9]{1,9}(\.[0-9]{1,9})?|([0-9]{1,9}(ns|us|ms|s|m|h))+)$", description = "How long to wait for the result: seconds (`10`) or a duration (`500ms`); default and maximum api.result_wait."),
        ("Prefer" = Option<String>, Header, description = "RFC 7240 `wait=<seconds>`, used when `?wait` is absent; answered with `Preference-Applied`."),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", description = "Makes the start idempotent: a retry with the same key and body returns the same run (`Idempotent-Replayed: true`), never a second order; the same key with another body is a 422."),
    ),
    request_body = ShoppingIn,
    responses(
        (status = 200, description = "The workflow ended: `completed` with its result, or failed/canceled/terminated/timed_out with an error", body = RunOut,
            example = json!({"workflow_id": "shopping-workflow-abc123", "status": "completed", "result": "Ordered 5 Apples...Ordered 3 Bananas..."})),
        (status = 202, description = "Started, still running when the wait ended", body = RunOut,
            headers(("Location" = String, description = "Where to get the result: /workflows/{workflow_id}/result"))),
        (status = 400, description = "Malformed JSON, or a bad Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The chosen workflow id was used before", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid shopping list or wait (every bad field, each at its JSON pointer), or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_shopping_workflow(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    wait: WaitPreference,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ShoppingIn>,
) -> Result<Response, ApiError> {
    let started = start_shopping(&state, principal, &headers, body, wait.or_longest()).await?;
    let location = result_location(&started.workflow_id);
    let (code, out) = RunOut::from_outcome(started.workflow_id, started.outcome);
    let mut extra = wait.headers();
    extra.extend(started.replayed_header);
    Ok(out.into_response_at(code, location, extra))
}

/// Start a shopping workflow and return at once. With an `Idempotency-Key`, a retry returns the
/// first request's workflow instead of ordering twice.
#[utoipa::path(post, path = "/workflows/shopping/async", tag = "shopping",
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", description = "Makes the start idempotent: a retry with the same key and body returns the same workflow (`Idempotent-Replayed: true`); the same key with another body is a 422."),
    ),
    request_body = ShoppingIn,
    responses(
        (status = 200, description = "Started", body = RunOut,
            headers(("Location" = String, description = "Where to get the result: /workflows/{workflow_id}/result")),
            example = json!({"workflow_id": "shopping-workflow-xyz789", "status": "started", "result": null})),
        (status = 400, description = "Malformed JSON, or a bad Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The chosen workflow id was used before", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid shopping list (every bad field, each at its JSON pointer), or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_shopping_workflow_async(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ShoppingIn>,
) -> Result<Response, ApiError> {
    let started = start_shopping(&state, principal, &headers, body, Duration::ZERO).await?;
    let location = result_location(&started.workflow_id);
    let body = RunOut {
        workflow_id: started.workflow_id,
        run_id: None,
        status: RunStatus::Started,
        result: None,
        error: None,
        replayed: None,
        update: None,
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(axum::http::header::LOCATION, location);
    headers.extend(started.replayed_header);
    Ok(response)
}

/// `/workflows/{id}/result`, the guide's result path.
fn result_location(workflow_id: &str) -> HeaderValue {
    workflow_path("/workflows", workflow_id, "/result")
}

/// `GET /workflows/{id}/status`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowStatusOut {
    /// Workflow id.
    pub workflow_id: String,
    /// Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELED, TERMINATED,
    /// CONTINUED_AS_NEW, TIMED_OUT (or PAUSED on servers that support pausing).
    #[schema(example = "COMPLETED")]
    pub status: &'static str,
    /// Start time, RFC 3339 in UTC.
    #[schema(example = "2025-10-09T02:50:00.123456+00:00")]
    pub start_time: Option<String>,
    /// Close time, RFC 3339 in UTC; null while running.
    #[schema(example = "2025-10-09T02:50:05.654321+00:00")]
    pub close_time: Option<String>,
}

/// Status and times of a workflow (the guide's part of `GET /v1/workflows/{workflow_id}`).
#[utoipa::path(get, path = "/workflows/{workflow_id}/status", tag = "workflows",
    params(("workflow_id" = String, Path, description = "Workflow id (percent-encoded)")),
    responses(
        (status = 200, description = "The workflow's status", body = WorkflowStatusOut),
        (status = 400, description = "Invalid workflow id in the path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_workflow_status(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
) -> Result<Json<WorkflowStatusOut>, ApiError> {
    let execution = state.gateway.describe_execution(&workflow_id).await?;
    Ok(Json(WorkflowStatusOut {
        workflow_id,
        status: status_name(execution.status),
        start_time: execution.start_time.map(rfc3339),
        close_time: execution.close_time.map(rfc3339),
    }))
}

/// The workflow's result. Waits while it runs, up to `wait` (default and maximum: the
/// configured `api.result_wait`), then answers 202 with status `running`.
#[utoipa::path(get, path = "/workflows/{workflow_id}/result", tag = "workflows",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("wait" = Option<String>, Query, pattern = r"^([0-9]{1,9}(\.[0-9]{1,9})?|([0-9]{1,9}(ns|us|ms|s|m|h))+)$", description = "How long to wait for the end: seconds (`10`, `2.5`) or a duration (`500ms`); `0` answers at once. Default and maximum api.result_wait."),
        ("Prefer" = Option<String>, Header, description = "RFC 7240 `wait=<seconds>`, used when `?wait` is absent; answered with `Preference-Applied`."),
    ),
    responses(
        (status = 200, description = "The workflow ended: completed with a result, or failed/canceled/terminated/timed_out with an error", body = RunOut),
        (status = 202, description = "Still running when the wait ended", body = RunOut,
            headers(("Location" = String, description = "Where to ask again"))),
        (status = 400, description = "Invalid workflow id in the path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid wait", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_workflow_result(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
    wait: WaitPreference,
) -> Result<Response, ApiError> {
    let request = ResultRequest {
        location: result_location(&workflow_id),
        workflow_id,
        run_id: None,
        wait: wait.or_longest(),
        with_run_id: false,
    };
    result(&state, request, &wait).await
}
