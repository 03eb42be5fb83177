//! `GET /v1/workflows/{workflow_id}` (describe) and `GET /v1/workflows/{workflow_id}/result`.

use std::collections::BTreeMap;

use axum::{Json, extract::State, response::Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    idempotency::MEMO_KEY, list::WorkflowSummaryOut, wait::WaitPreference, workflow_location,
};
use crate::{
    error::{ApiError, Problem},
    extract::{RunIdQuery, WorkflowIdPath},
    gateway::Execution,
    routes::run::RunOut,
    state::AppState,
};

/// A workflow execution (its latest run, or the run `?run_id=` names): what a list shows of it,
/// and more.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowOut {
    /// Id, run, type, task queue, status and times.
    #[serde(flatten)]
    pub run: WorkflowSummaryOut,
    /// Events in its history so far.
    pub history_length: usize,
    /// Its memo, as JSON.
    pub memo: BTreeMap<String, Value>,
    /// Its search attributes, as JSON: those a client set (Temporal's own, such as `BuildIds`,
    /// are left out).
    pub search_attributes: BTreeMap<String, Value>,
}

/// Whether `name` is one of the search attributes Temporal sets itself (`BuildIds`,
/// `BinaryChecksums`, and the reserved `Temporal…` names): internal, not the client's.
fn is_temporals_own(name: &str) -> bool {
    name.starts_with("Temporal") || matches!(name, "BuildIds" | "BinaryChecksums")
}

impl From<Execution> for WorkflowOut {
    fn from(mut e: Execution) -> Self {
        let mut memo = std::mem::take(&mut e.memo);
        memo.remove(MEMO_KEY);
        let mut search_attributes = std::mem::take(&mut e.search_attributes);
        search_attributes.retain(|name, _| !is_temporals_own(name));
        let history_length = e.history_length;
        Self {
            run: e.into(),
            history_length,
            memo,
            search_attributes,
        }
    }
}

/// Describe a workflow: status, times, type, task queue, history length, memo.
#[utoipa::path(get, path = "/v1/workflows/{workflow_id}", tag = "v1",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("run_id" = Option<String>, Query, description = "One run of the workflow (e.g. an earlier one); default: its latest run"),
    ),
    responses(
        (status = 200, description = "The workflow", body = WorkflowOut),
        (status = 400, description = "Invalid workflow id in the path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow (or run)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid run_id", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_workflow(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
    RunIdQuery(run_id): RunIdQuery,
) -> Result<Json<WorkflowOut>, ApiError> {
    let execution = state
        .gateway
        .describe_run(&workflow_id, run_id.as_deref())
        .await?;
    Ok(Json(execution.into()))
}

/// The workflow's result: at once by default, or after waiting up to `wait` (or
/// `Prefer: wait`) for it to end.
#[utoipa::path(get, path = "/v1/workflows/{workflow_id}/result", tag = "v1",
    operation_id = "get_v1_workflow_result",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("run_id" = Option<String>, Query, description = "One run of the workflow (e.g. an earlier one); default: its latest run"),
        ("wait" = Option<String>, Query, pattern = r"^([0-9]{1,9}(\.[0-9]{1,9})?|([0-9]{1,9}(ns|us|ms|s|m|h))+)$", description = "Wait up to this long for the end: seconds (`10`) or a duration (`500ms`); capped at api.result_wait. Default: answer at once."),
        ("Prefer" = Option<String>, Header, description = "RFC 7240 `wait=<seconds>`, used when `?wait` is absent; answered with `Preference-Applied`."),
    ),
    responses(
        (status = 200, description = "The run ended: completed with its result, or failed/canceled/terminated/timed_out with an error", body = RunOut),
        (status = 202, description = "Still running", body = RunOut,
            headers(("Location" = String, description = "Where to ask again"))),
        (status = 400, description = "Invalid workflow id in the path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow (or run)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid wait or run_id", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_workflow_result(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
    RunIdQuery(run_id): RunIdQuery,
    wait: WaitPreference,
) -> Result<Response, ApiError> {
    let location = workflow_location(&workflow_id, "/result");
    let request = ResultRequest {
        workflow_id,
        run_id,
        wait: wait.or_none(),
        location,
        with_run_id: true,
    };
    result(&state, request, &wait).await
}

/// A result read, as any route asks for it.
pub(crate) struct ResultRequest {
    /// The workflow.
    pub workflow_id: String,
    /// One of its runs, or (`None`) its latest.
    pub run_id: Option<String>,
    /// How long to wait for the end; zero peeks.
    pub wait: std::time::Duration,
    /// Where to ask again while it runs.
    pub location: axum::http::HeaderValue,
    /// Whether the answer names the run (`/v1`; the guide's answer has no `run_id`).
    pub with_run_id: bool,
}

/// The one result read every route makes: waits up to `request.wait` for the run to end; 200
/// when it has, 202 with `Location` while it runs.
pub(crate) async fn result(
    state: &AppState,
    request: ResultRequest,
    wait: &WaitPreference,
) -> Result<Response, ApiError> {
    let (run_id, outcome) = state
        .gateway
        .outcome(
            &request.workflow_id,
            request.run_id.as_deref(),
            request.wait,
            request.with_run_id,
        )
        .await?;
    let (code, mut out) = RunOut::from_outcome(request.workflow_id, outcome);
    if request.with_run_id {
        out.run_id = Some(run_id);
    }
    Ok(out.into_response_at(code, request.location, wait.headers()))
}
