//! `POST /v1/workflows/{workflow_id}/cancel` and `/terminate`, with an optional reason.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    body::OptionalJson,
    messages::{MessageAction, MessageOut, ended_meanwhile, require_running},
};
use crate::{
    error::{ApiError, Problem},
    extract::WorkflowIdPath,
    state::AppState,
};

/// Why a workflow is canceled or terminated.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonIn {
    /// Recorded in the workflow's history.
    #[serde(default)]
    #[schema(example = "customer asked")]
    pub reason: Option<String>,
}

fn reason(body: Option<Value>) -> Result<String, ApiError> {
    // The documented body is optional, and JSON `null` is as good as none.
    let Some(body) = body.filter(|body| !body.is_null()) else {
        return Ok(String::new());
    };
    let bytes = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    let parsed: ReasonIn = crate::extract::parse_json(&bytes)?;
    Ok(parsed.reason.unwrap_or_default())
}

/// Ask the workflow to cancel (it decides how; it ends as CANCELED when it honours it).
#[utoipa::path(post, path = "/v1/workflows/{workflow_id}/cancel", tag = "v1",
    params(("workflow_id" = String, Path, description = "Workflow id (percent-encoded)")),
    request_body(content = Option<ReasonIn>, description = "Optional reason"),
    responses(
        (status = 202, description = "Cancellation requested", body = MessageOut),
        (status = 400, description = "Malformed JSON or undecodable path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The workflow has ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A body other than `{\"reason\": \"…\"}`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel_workflow(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
    OptionalJson(body): OptionalJson,
) -> Result<Response, ApiError> {
    let reason = reason(body)?;
    let execution = state.gateway.describe_execution(&workflow_id).await?;
    require_running(&execution)?;
    state
        .gateway
        .cancel(&workflow_id, reason)
        .await
        .map_err(ended_meanwhile)?;
    let out = MessageOut::new(execution, MessageAction::CancelRequested);
    Ok((StatusCode::ACCEPTED, Json(out)).into_response())
}

/// Terminate the workflow at once (no cleanup runs).
#[utoipa::path(post, path = "/v1/workflows/{workflow_id}/terminate", tag = "v1",
    params(("workflow_id" = String, Path, description = "Workflow id (percent-encoded)")),
    request_body(content = Option<ReasonIn>, description = "Optional reason"),
    responses(
        (status = 200, description = "Terminated", body = MessageOut),
        (status = 400, description = "Malformed JSON or undecodable path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The workflow has ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A body other than `{\"reason\": \"…\"}`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn terminate_workflow(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
    OptionalJson(body): OptionalJson,
) -> Result<Json<MessageOut>, ApiError> {
    let reason = reason(body)?;
    let execution = state.gateway.describe_execution(&workflow_id).await?;
    require_running(&execution)?;
    state
        .gateway
        .terminate(&workflow_id, None, reason)
        .await
        .map_err(ended_meanwhile)?;
    Ok(Json(MessageOut::new(execution, MessageAction::Terminated)))
}
