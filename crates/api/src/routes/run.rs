//! How every route reports a run: its status words, the answer of starts and results, times,
//! and where to find a workflow (ids as one percent-encoded path segment).

use axum::{
    Json,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use temporalio_client::WorkflowExecutionStatus;
use utoipa::ToSchema;

use crate::{
    gateway::{ErrorInfo, Outcome},
    path::segment,
};

/// Where a run stands: one set of lower-case words for every answer (the guide's, which `/v1`
/// extends). Only the guide's status route keeps Temporal's upper-case names, as the guide
/// promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunStatus {
    /// Accepted and started (the guide's async start only).
    Started,
    /// Running (or still running when the wait ended).
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
    /// Ended by continuing as a new run of the same workflow id (describe and list only).
    ContinuedAsNew,
    /// Paused (describe and list only, on servers that pause workflows).
    Paused,
}

impl From<WorkflowExecutionStatus> for RunStatus {
    fn from(status: WorkflowExecutionStatus) -> Self {
        use WorkflowExecutionStatus as S;
        match status {
            S::Completed => Self::Completed,
            S::Failed => Self::Failed,
            S::Canceled => Self::Canceled,
            S::Terminated => Self::Terminated,
            S::TimedOut => Self::TimedOut,
            S::ContinuedAsNew => Self::ContinuedAsNew,
            S::Paused => Self::Paused,
            // Temporal describes every run it has as one of the above or running.
            _ => Self::Running,
        }
    }
}

/// A run as starts and results report it. The guide's routes answer exactly the guide's three
/// fields (and `error` when the run did not complete); `/v1` adds the run id and, for starts,
/// whether an earlier request's run was returned.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunOut {
    /// Workflow id.
    #[schema(example = "shopping-workflow-3f0e4c1a-9b7d-4e0a-8d59-5b1f7f2f6c11")]
    pub workflow_id: String,
    /// Run id (`/v1` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Where the run stands: `running`, or how it ended (`started` on the guide's async start).
    pub status: RunStatus,
    /// The workflow's result once completed, otherwise null.
    #[schema(value_type = Option<serde_json::Value>, example = "Ordered 5 Apples...Ordered 3 Bananas...")]
    pub result: Option<serde_json::Value>,
    /// Why the workflow did not complete (failed, canceled, terminated, timed_out only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// `/v1` starts only: true when no run was created because an earlier request's run (same
    /// `Idempotency-Key`, or a running workflow under the `use_existing` policy) was returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
    /// Update-with-start only: the update's id and result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateOut>,
}

/// The update an update-with-start ran.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct UpdateOut {
    /// Its id (fetch its result again at `/v1/workflows/{workflow_id}/updates/{name}/{update_id}`).
    pub update_id: String,
    /// Its result.
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: serde_json::Value,
}

impl RunOut {
    /// The answer for `outcome`, 200 when the run ended and 202 while it runs.
    pub(crate) fn from_outcome(workflow_id: String, outcome: Outcome) -> (StatusCode, Self) {
        let (status, result, error) = match outcome {
            Outcome::Completed(value) => (RunStatus::Completed, Some(value), None),
            Outcome::Running => (RunStatus::Running, None, None),
            Outcome::Unsuccessful { status, error } => (
                match RunStatus::from(status) {
                    status
                    @ (RunStatus::Canceled | RunStatus::Terminated | RunStatus::TimedOut) => status,
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
            update: None,
        };
        (code, out)
    }

    /// The response, with `Location: location` on a 202 (where the client gets the result).
    pub(crate) fn into_response_at(
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

/// Temporal's upper-case status name, as the guide's status route reports it.
pub(crate) fn status_name(status: WorkflowExecutionStatus) -> &'static str {
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

/// RFC 3339 with microseconds in UTC, as the guide writes times.
pub(crate) fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// `{base}/{id}{suffix}` with the id percent-encoded as one path segment (`base` is
/// `/workflows` or `/v1/workflows`).
pub(crate) fn workflow_path(base: &'static str, workflow_id: &str, suffix: &str) -> HeaderValue {
    let path = format!("{base}/{}{suffix}", segment(workflow_id));
    HeaderValue::try_from(path).unwrap_or_else(|_| HeaderValue::from_static(base))
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
            let location = workflow_path("/v1/workflows", &id, "/result");
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
