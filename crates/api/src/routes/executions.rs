//! `GET /workflows/{workflow_id}/status` and `/result`, and the run answer shared with the
//! start routes.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use temporalio_client::WorkflowExecutionStatus;
use utoipa::ToSchema;

use flowgate_config::Action;

use crate::{
    access::{Access, ApiRouter, On},
    error::{ApiError, Problem},
    extract::{Wait, WorkflowIdPath},
    gateway::{ErrorInfo, Outcome},
    state::AppState,
};

/// Status and result routes.
pub fn routes(router: ApiRouter) -> ApiRouter {
    let read = Access::Requires(Action::Read, On::IdInPath);
    router
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

/// Where a run stands, in the guide's lower-case words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Accepted and started (async start).
    Started,
    /// Still running when the wait ended.
    Running,
    /// Finished with a result.
    Completed,
    /// Failed.
    Failed,
    /// Canceled.
    Canceled,
    /// Terminated.
    Terminated,
    /// Timed out.
    TimedOut,
}

/// The guide's answer for starts and results.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowRunOut {
    /// Workflow id.
    #[schema(example = "shopping-workflow-3f0e4c1a-9b7d-4e0a-8d59-5b1f7f2f6c11")]
    pub workflow_id: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// The workflow's result once completed, otherwise null: any JSON value (the shopping
    /// workflow's is a string; these routes also read other workflows).
    #[schema(value_type = Option<serde_json::Value>, example = "Ordered 5 Apples...Ordered 3 Bananas...")]
    pub result: Option<serde_json::Value>,
    /// Why the workflow did not complete (failed, canceled, terminated, timed_out only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// `GET /workflows/{id}/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowStatusOut {
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

/// Temporal's upper-case status name.
pub fn status_name(status: WorkflowExecutionStatus) -> &'static str {
    use WorkflowExecutionStatus as S;
    match status {
        S::Running => "RUNNING",
        S::Completed => "COMPLETED",
        S::Failed => "FAILED",
        S::Canceled => "CANCELED",
        S::Terminated => "TERMINATED",
        S::ContinuedAsNew => "CONTINUED_AS_NEW",
        S::TimedOut => "TIMED_OUT",
        S::Paused => "PAUSED",
        S::Unspecified => "UNSPECIFIED",
        _ => "UNKNOWN",
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// Turns an outcome into the guide's answer: 200 when the workflow ended (whatever way), 202
/// with `Location` of the result when it is still running.
pub fn run_response(workflow_id: String, outcome: Outcome) -> Response {
    let (status, result, error) = match outcome {
        Outcome::Completed(value) => (RunStatus::Completed, Some(value), None),
        Outcome::Running => (RunStatus::Running, None, None),
        Outcome::Unsuccessful { status, error } => {
            let status = match status {
                WorkflowExecutionStatus::Canceled => RunStatus::Canceled,
                WorkflowExecutionStatus::Terminated => RunStatus::Terminated,
                WorkflowExecutionStatus::TimedOut => RunStatus::TimedOut,
                _ => RunStatus::Failed,
            };
            (status, None, Some(error))
        }
    };
    let running = status == RunStatus::Running;
    let location = result_location(&workflow_id);
    let body = Json(WorkflowRunOut {
        workflow_id,
        status,
        result,
        error,
    });
    if running {
        (StatusCode::ACCEPTED, [(header::LOCATION, location)], body).into_response()
    } else {
        body.into_response()
    }
}

/// Characters that cannot stand literally in one path segment (RFC 3986 `pchar`).
pub(crate) const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `/workflows/{id}/result` with the id percent-encoded as one path segment.
pub fn result_location(workflow_id: &str) -> HeaderValue {
    let path = format!(
        "/workflows/{}/result",
        utf8_percent_encode(workflow_id, PATH_SEGMENT)
    );
    HeaderValue::try_from(path).unwrap_or_else(|_| HeaderValue::from_static("/"))
}

/// Status and times of a workflow.
#[utoipa::path(get, path = "/workflows/{workflow_id}/status", tag = "workflows",
    params(("workflow_id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The workflow's status", body = WorkflowStatusOut),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Temporal unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_workflow_status(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
) -> Result<Json<WorkflowStatusOut>, ApiError> {
    let description = state.gateway.describe(&workflow_id).await?;
    Ok(Json(WorkflowStatusOut {
        workflow_id,
        status: status_name(description.status),
        start_time: description.start_time.map(rfc3339),
        close_time: description.close_time.map(rfc3339),
    }))
}

/// The workflow's result. Waits while it runs, up to `wait` (default and maximum: the
/// configured `api.result_wait`), then answers 202 with status `running`.
#[utoipa::path(get, path = "/workflows/{workflow_id}/result", tag = "workflows",
    params(
        ("workflow_id" = String, Path, description = "Workflow id"),
        ("wait" = Option<String>, Query, pattern = r"^([0-9]{1,9}(\.[0-9]{1,9})?|([0-9]{1,9}(ns|us|ms|s|m|h))+)$", description = "How long to wait for the end: seconds (`10`, `2.5`) or a duration (`500ms`); `0` answers at once. Capped at api.result_wait."),
    ),
    responses(
        (status = 200, description = "The workflow ended: completed with a result, or failed/canceled/terminated/timed_out with an error", body = WorkflowRunOut),
        (status = 202, description = "Still running when the wait ended", body = WorkflowRunOut,
            headers(("Location" = String, description = "Where to ask again"))),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid wait", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Temporal unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_workflow_result(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
    Wait(wait): Wait,
) -> Result<Response, ApiError> {
    let outcome = state.gateway.outcome(&workflow_id, wait).await?;
    Ok(run_response(workflow_id, outcome))
}
