//! `/v1`: any registered workflow over REST, derived from `flowgate_workflows::registry`.
//!
//! Starts are per registered workflow (`POST /v1/workflows/{name}`, validated by the
//! registry); everything addressed by workflow id works for any workflow, and checks message
//! arguments when the workflow's type is registered. Workflow ids are one percent-encoded path
//! segment, in paths and in `Location`.

mod body;
pub mod control;
mod idempotency;
pub mod list;
pub mod messages;
pub mod openapi;
pub mod start;
mod wait;
pub mod workflow;

use axum::{
    Json,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use flowgate_config::Action;
use percent_encoding::utf8_percent_encode;
use serde::Serialize;
use temporalio_client::WorkflowExecutionStatus;
use utoipa::ToSchema;

use crate::{
    access::{Access, ApiRouter, On},
    gateway::{ErrorInfo, Outcome},
    routes::executions::{PATH_SEGMENT, RunStatus},
};

/// `Idempotent-Replayed`: whether an `Idempotency-Key` request returned an earlier run.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// `/v1` routes, each with the permission it needs.
pub fn routes(router: ApiRouter) -> ApiRouter {
    use Action::{Control, Message, Read, Start};
    let on_id = |action| Access::Requires(action, On::IdInPath);
    // One path template per position: the start route's `{workflow_id}` is a workflow name.
    let workflow = "/v1/workflows/{workflow_id}";
    router
        .route(
            Method::GET,
            "/v1/workflows",
            Access::Requires(Read, On::Every),
            list::list_workflows,
        )
        .route(
            Method::POST,
            workflow,
            Access::Requires(Start, On::NamedInPath),
            start::start_workflow,
        )
        .route(Method::GET, workflow, on_id(Read), workflow::get_workflow)
        .route(
            Method::GET,
            "/v1/workflows/{workflow_id}/result",
            on_id(Read),
            workflow::get_workflow_result,
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

/// A run as `/v1` reports it: the guide's answer, with the run id and, for starts, whether an
/// earlier request's run was returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunOut {
    /// Workflow id.
    #[schema(example = "shopping-workflow-3f0e4c1a-9b7d-4e0a-8d59-5b1f7f2f6c11")]
    pub workflow_id: String,
    /// Run id (starts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Where the run stands: `running`, or how it ended.
    pub status: RunStatus,
    /// The workflow's result once completed, otherwise null.
    pub result: Option<serde_json::Value>,
    /// Why the workflow did not complete (failed, canceled, terminated, timed_out only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// Starts only: true when no run was created because an earlier request's run (same
    /// `Idempotency-Key`, or a running workflow under the `use_existing` policy) was returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
}

impl RunOut {
    /// The answer for `outcome`; `status` 200 when the run ended, 202 while it runs.
    pub fn from_outcome(workflow_id: String, outcome: Outcome) -> (StatusCode, Self) {
        let (status, result, error) = match outcome {
            Outcome::Completed(value) => (RunStatus::Completed, Some(value), None),
            Outcome::Running => (RunStatus::Running, None, None),
            Outcome::Unsuccessful { status, error } => (
                match status {
                    WorkflowExecutionStatus::Canceled => RunStatus::Canceled,
                    WorkflowExecutionStatus::Terminated => RunStatus::Terminated,
                    WorkflowExecutionStatus::TimedOut => RunStatus::TimedOut,
                    _ => RunStatus::Failed,
                },
                None,
                Some(error),
            ),
        };
        let code = if status == RunStatus::Running {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        let out = Self {
            workflow_id,
            run_id: None,
            status,
            result,
            error,
            replayed: None,
        };
        (code, out)
    }

    /// The response, with `Location: location` while the run is still running.
    pub fn into_response_at(
        self,
        code: StatusCode,
        location: HeaderValue,
        mut extra: Vec<(HeaderName, HeaderValue)>,
    ) -> Response {
        if code == StatusCode::ACCEPTED {
            extra.push((header::LOCATION, location));
        }
        let mut response = (code, Json(self)).into_response();
        response.headers_mut().extend(extra);
        response
    }
}

/// `/v1/workflows/{id}{suffix}` with the id percent-encoded as one path segment.
pub fn workflow_location(workflow_id: &str, suffix: &str) -> HeaderValue {
    let path = format!(
        "/v1/workflows/{}{suffix}",
        utf8_percent_encode(workflow_id, PATH_SEGMENT)
    );
    HeaderValue::try_from(path).unwrap_or_else(|_| HeaderValue::from_static("/v1/workflows"))
}

#[cfg(test)]
mod tests {
    use percent_encoding::percent_decode_str;

    use super::*;
    use crate::extract::check_workflow_id;

    proptest::proptest! {
        #[test]
        fn every_accepted_workflow_id_round_trips_through_its_location(id in "\\PC{1,40}") {
            proptest::prop_assume!(check_workflow_id(&id).is_ok());
            let location = workflow_location(&id, "/result");
            let path = location.to_str().unwrap();
            let segment = path
                .strip_prefix("/v1/workflows/")
                .and_then(|rest| rest.strip_suffix("/result"))
                .unwrap();
            proptest::prop_assert!(!segment.contains('/'), "{}", path);
            proptest::prop_assert_eq!(percent_decode_str(segment).decode_utf8().unwrap(), id.as_str());
        }
    }
}
