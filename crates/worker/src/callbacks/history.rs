//! How the notified run closed: its close event, read with a long poll, and its times.

use std::time::Duration;

use anyhow::Context as _;
use flowgate_workflows::callbacks::{CallbackEvent, ClosedError, ClosedRun};
use serde_json::Value;
use temporalio_client::{
    Client, NamespacedClient as _, grpc::WorkflowService, tonic::IntoRequest as _,
};
use temporalio_common::protos::temporal::api::{
    common::v1::{Payloads, WorkflowExecution},
    enums::v1::HistoryEventFilterType,
    failure::v1::{Failure, failure::FailureInfo},
    history::v1::history_event::Attributes,
    workflowservice::v1::{DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest},
};

/// Bound on one long poll: Temporal answers an open run's poll empty after about 20 s; the caller
/// heartbeats between polls.
pub(super) const POLL_BOUND: Duration = Duration::from_secs(10);

/// What one poll saw.
pub(super) enum Poll {
    /// Still running.
    Open,
    /// Continued as new: the next run is the one to wait for.
    ContinuedAs(String),
    /// Closed.
    Closed(ClosedRun),
    /// The run does not exist (any more): nothing will ever close.
    Gone,
}

/// Waits up to [`POLL_BOUND`] for run `run_id` of `workflow_id` to close.
pub(super) async fn poll_close(
    client: &Client,
    workflow_id: &str,
    run_id: &str,
) -> anyhow::Result<Poll> {
    let mut rpc = client.clone();
    let mut request = GetWorkflowExecutionHistoryRequest {
        namespace: client.namespace(),
        execution: Some(execution(workflow_id, run_id)),
        wait_new_event: true,
        history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
        ..Default::default()
    }
    .into_request();
    request.set_timeout(POLL_BOUND);
    let response = match tokio::time::timeout(
        POLL_BOUND + Duration::from_secs(1),
        WorkflowService::get_workflow_execution_history(&mut rpc, request),
    )
    .await
    {
        Err(_) => return Ok(Poll::Open),
        Ok(Err(status)) if status.code() == temporalio_client::tonic::Code::DeadlineExceeded => {
            return Ok(Poll::Open);
        }
        Ok(Err(status)) if status.code() == temporalio_client::tonic::Code::NotFound => {
            return Ok(Poll::Gone);
        }
        Ok(result) => result
            .context("cannot read the workflow's history")?
            .into_inner(),
    };
    let Some(attributes) = response
        .history
        .and_then(|h| h.events.into_iter().next_back())
        .and_then(|e| e.attributes)
    else {
        return Ok(Poll::Open);
    };
    let (status, result, error) = match attributes {
        Attributes::WorkflowExecutionCompletedEventAttributes(a) => (
            CallbackEvent::Completed,
            Some(first_json(a.result.as_ref())),
            None,
        ),
        Attributes::WorkflowExecutionFailedEventAttributes(a) => (
            CallbackEvent::Failed,
            None,
            Some(failure_error(a.failure.as_ref())),
        ),
        Attributes::WorkflowExecutionCanceledEventAttributes(_) => (
            CallbackEvent::Canceled,
            None,
            Some(ClosedError {
                message: "the workflow was canceled".to_owned(),
                kind: None,
            }),
        ),
        Attributes::WorkflowExecutionTerminatedEventAttributes(a) => (
            CallbackEvent::Terminated,
            None,
            Some(ClosedError {
                message: if a.reason.is_empty() {
                    "the workflow was terminated".to_owned()
                } else {
                    format!("the workflow was terminated: {}", a.reason)
                },
                kind: None,
            }),
        ),
        Attributes::WorkflowExecutionTimedOutEventAttributes(_) => (
            CallbackEvent::TimedOut,
            None,
            Some(ClosedError {
                message: "the workflow timed out".to_owned(),
                kind: None,
            }),
        ),
        Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a) => {
            return Ok(Poll::ContinuedAs(a.new_execution_run_id));
        }
        _ => return Ok(Poll::Open),
    };
    let (workflow_type, started_at, closed_at) = times(client, workflow_id, run_id).await?;
    Ok(Poll::Closed(ClosedRun {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        workflow_type,
        status,
        result,
        error,
        started_at,
        closed_at,
    }))
}

/// The run's type, start and close times.
async fn times(
    client: &Client,
    workflow_id: &str,
    run_id: &str,
) -> anyhow::Result<(String, Option<String>, Option<String>)> {
    let mut rpc = client.clone();
    let request = DescribeWorkflowExecutionRequest {
        namespace: client.namespace(),
        execution: Some(execution(workflow_id, run_id)),
    };
    let info = WorkflowService::describe_workflow_execution(&mut rpc, request.into_request())
        .await
        .context("cannot describe the workflow")?
        .into_inner()
        .workflow_execution_info
        .unwrap_or_default();
    Ok((
        info.r#type.map(|t| t.name).unwrap_or_default(),
        info.start_time.and_then(|t| rfc3339(t.seconds, t.nanos)),
        info.close_time.and_then(|t| rfc3339(t.seconds, t.nanos)),
    ))
}

fn execution(workflow_id: &str, run_id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
    }
}

/// A timestamp as RFC 3339 (UTC, milliseconds).
fn rfc3339(seconds: i64, nanos: i32) -> Option<String> {
    chrono::DateTime::from_timestamp(seconds, u32::try_from(nanos).ok()?)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The first payload as JSON (`json/plain`); anything else is described, not guessed at.
fn first_json(payloads: Option<&Payloads>) -> Value {
    let Some(payload) = payloads.and_then(|p| p.payloads.first()) else {
        return Value::Null;
    };
    serde_json::from_slice(&payload.data).unwrap_or_else(|_| {
        let encoding = payload
            .metadata
            .get("encoding")
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .unwrap_or_default();
        serde_json::json!({ "undecoded_encoding": encoding })
    })
}

/// The failure's message (with its causes') and its innermost application type.
fn failure_error(failure: Option<&Failure>) -> ClosedError {
    let mut messages = Vec::new();
    let mut kind = None;
    let mut next = failure;
    while let Some(failure) = next {
        if !failure.message.is_empty() {
            messages.push(failure.message.clone());
        }
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &failure.failure_info
            && !info.r#type.is_empty()
        {
            kind = Some(info.r#type.clone());
        }
        next = failure.cause.as_deref();
    }
    ClosedError {
        message: if messages.is_empty() {
            "the workflow failed".to_owned()
        } else {
            messages.join(": ")
        },
        kind,
    }
}
