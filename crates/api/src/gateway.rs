//! Temporal operations the routes need, each bounded in time and mapped to [`ApiError`]s.
//!
//! Workflows are started untyped (type name + JSON payload), the way any Temporal SDK would see
//! them, so the API needs the workflows' names and types but never their code.

use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use flowgate_temporal::{TemporalLink, Unavailable};
use opentelemetry::trace::FutureExt as _;
use serde::Serialize;
use temporalio_client::{
    RpcOptions, UntypedWorkflow, WorkflowDescribeOptions, WorkflowExecutionStatus,
    WorkflowGetResultOptions, WorkflowIdReusePolicy, WorkflowStartOptions,
    errors::{WorkflowGetResultError, WorkflowInteractionError, WorkflowStartError},
    tonic::{Code, Status},
};
use temporalio_common::{
    data_converters::RawValue,
    protos::temporal::api::{
        common::v1::Payload,
        failure::v1::{Failure, failure::FailureInfo},
    },
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::{
    error::ApiError,
    metrics::{ApiMetrics, FailureReason, StartOutcome, TemporalOperation},
};

const ENCODING_KEY: &str = "encoding";
const JSON_ENCODING: &[u8] = b"json/plain";
const NULL_ENCODING: &[u8] = b"binary/null";

/// Starts, describes and waits for workflows.
#[derive(Clone)]
pub struct Gateway {
    link: TemporalLink,
    rpc_timeout: Duration,
    metrics: ApiMetrics,
}

/// A started workflow.
#[derive(Debug, Clone)]
pub struct Started {
    /// Its id.
    pub workflow_id: String,
    /// Its run id.
    pub run_id: Option<String>,
}

/// How a workflow ended, or that it has not yet.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Finished with this result.
    Completed(serde_json::Value),
    /// Still running when the wait ended.
    Running,
    /// Ended without a result.
    Unsuccessful {
        /// FAILED, CANCELED, TERMINATED or TIMED_OUT.
        status: WorkflowExecutionStatus,
        /// Why.
        error: ErrorInfo,
    },
}

/// Why a workflow did not complete.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorInfo {
    /// Failure type: the application error type (e.g. `InvalidShoppingList`) or Temporal's
    /// failure kind (`ActivityFailure`, `TimeoutFailure`, `CanceledFailure`, `TerminatedFailure`).
    #[serde(rename = "type")]
    #[schema(example = "InvalidShoppingList")]
    pub error_type: String,
    /// Human-readable message, outermost failure first, causes after `: `.
    #[schema(example = "activity task failed: amount must be a positive integer, got 0")]
    pub message: String,
}

/// What `describe` tells.
#[derive(Debug, Clone)]
pub struct Description {
    /// Execution status.
    pub status: WorkflowExecutionStatus,
    /// When it started.
    pub start_time: Option<DateTime<Utc>>,
    /// When it closed, if it has.
    pub close_time: Option<DateTime<Utc>>,
}

impl Gateway {
    /// Operations over `link`, each single call bounded by `rpc_timeout` and recorded in
    /// `metrics`.
    pub fn new(link: TemporalLink, rpc_timeout: Duration, metrics: ApiMetrics) -> Self {
        Self {
            link,
            rpc_timeout,
            metrics,
        }
    }

    fn rpc_options(&self) -> RpcOptions {
        RpcOptions::builder().timeout(self.rpc_timeout).build()
    }

    /// Runs one Temporal call and records its duration and, if it failed, why.
    async fn observed<T>(
        &self,
        operation: TemporalOperation,
        call: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed();
        // Start and describe are bounded by `rpc_timeout`. A result long-poll is bounded by the
        // request's wait, and its end is an answer ("running"), not a failure.
        let hit_bound = operation != TemporalOperation::GetResult && elapsed >= self.rpc_timeout;
        let failure = result
            .as_ref()
            .err()
            .and_then(|error| FailureReason::of(error, hit_bound));
        self.metrics.temporal_call(operation, elapsed, failure);
        result
    }

    /// Starts `workflow_type` with `input` as its JSON argument. With `reject_duplicate`, an id
    /// that was ever used before is a 409; otherwise only a running one is.
    pub async fn start(
        &self,
        workflow_type: &str,
        task_queue: &str,
        workflow_id: String,
        input: &impl Serialize,
        reject_duplicate: bool,
    ) -> Result<Started, ApiError> {
        let call = self.start_unobserved(
            workflow_type,
            task_queue,
            workflow_id,
            input,
            reject_duplicate,
        );
        let result = self.observed(TemporalOperation::Start, call).await;
        self.metrics
            .workflow_start(workflow_type, StartOutcome::of(&result));
        result
    }

    async fn start_unobserved(
        &self,
        workflow_type: &str,
        task_queue: &str,
        workflow_id: String,
        input: &impl Serialize,
        reject_duplicate: bool,
    ) -> Result<Started, ApiError> {
        let client = self.link.client()?;
        let payload = json_payload(input).map_err(ApiError::internal)?;
        let policy = if reject_duplicate {
            WorkflowIdReusePolicy::RejectDuplicate
        } else {
            WorkflowIdReusePolicy::AllowDuplicate
        };
        let options = WorkflowStartOptions::new(task_queue, workflow_id.clone())
            .id_reuse_policy(policy)
            .rpc_options(self.rpc_options())
            .build();
        // In the request span's OpenTelemetry context, so the client interceptor makes the
        // start its child and hands the context to the workflow.
        let call = client
            .start_workflow(
                UntypedWorkflow::new(workflow_type),
                RawValue::new(vec![payload]),
                options,
            )
            .with_context(tracing::Span::current().context());
        match self.link.bounded(self.rpc_timeout, call).await? {
            Ok(handle) => Ok(Started {
                workflow_id: handle.info().workflow_id.clone(),
                run_id: handle.run_id().map(str::to_owned),
            }),
            Err(WorkflowStartError::AlreadyStarted { .. }) => {
                Err(ApiError::WorkflowAlreadyExists(workflow_id))
            }
            Err(WorkflowStartError::Rpc(status)) => Err(rpc_error(status)),
            Err(other) => Err(ApiError::internal(other)),
        }
    }

    /// Status and times of the latest run of `workflow_id`.
    pub async fn describe(&self, workflow_id: &str) -> Result<Description, ApiError> {
        self.observed(
            TemporalOperation::Describe,
            self.describe_unobserved(workflow_id),
        )
        .await
    }

    async fn describe_unobserved(&self, workflow_id: &str) -> Result<Description, ApiError> {
        let client = self.link.client()?;
        let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
        let call = handle.describe(
            WorkflowDescribeOptions::builder()
                .rpc_options(self.rpc_options())
                .build(),
        );
        match self.link.bounded(self.rpc_timeout, call).await? {
            Ok(d) => Ok(Description {
                status: d.status(),
                start_time: d.start_time().map(utc),
                close_time: d.close_time().map(utc),
            }),
            Err(e) => Err(interaction_error(e, workflow_id)),
        }
    }

    /// Waits up to `wait` for the latest run of `workflow_id` to end. A zero wait peeks.
    pub async fn outcome(&self, workflow_id: &str, wait: Duration) -> Result<Outcome, ApiError> {
        if wait.is_zero()
            && self.describe(workflow_id).await?.status == WorkflowExecutionStatus::Running
        {
            return Ok(Outcome::Running);
        }
        self.observed(
            TemporalOperation::GetResult,
            self.get_result(workflow_id, wait),
        )
        .await
    }

    /// Waits up to `wait` (at least a peek's worth) for the latest run of `workflow_id` to end.
    async fn get_result(&self, workflow_id: &str, wait: Duration) -> Result<Outcome, ApiError> {
        let client = self.link.client()?;
        let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
        // A closed workflow answers at once; give a peek one RPC's worth of time.
        let wait = wait.max(self.rpc_timeout.min(Duration::from_secs(1)));
        let call = self
            .link
            .unless_down(handle.get_result(WorkflowGetResultOptions::default()));
        let result = match tokio::time::timeout(wait, call).await {
            Err(_elapsed) => return Ok(Outcome::Running),
            Ok(result) => result?,
        };
        use WorkflowExecutionStatus as S;
        let unsuccessful = |status, error_type: &str, message: String| Outcome::Unsuccessful {
            status,
            error: ErrorInfo {
                error_type: error_type.to_owned(),
                message,
            },
        };
        match result {
            Ok(raw) => Ok(Outcome::Completed(
                decode_result(raw).map_err(ApiError::internal)?,
            )),
            Err(WorkflowGetResultError::Failed(error)) => Ok(Outcome::Unsuccessful {
                status: S::Failed,
                error: error_info(error.failure()),
            }),
            Err(WorkflowGetResultError::Cancelled { .. }) => Ok(unsuccessful(
                S::Canceled,
                "CanceledFailure",
                "the workflow was canceled".to_owned(),
            )),
            Err(WorkflowGetResultError::Terminated { .. }) => Ok(unsuccessful(
                S::Terminated,
                "TerminatedFailure",
                "the workflow was terminated".to_owned(),
            )),
            Err(WorkflowGetResultError::TimedOut) => Ok(unsuccessful(
                S::TimedOut,
                "TimeoutFailure",
                "the workflow exceeded its execution or run timeout".to_owned(),
            )),
            Err(WorkflowGetResultError::ContinuedAsNew) => Ok(Outcome::Running),
            Err(WorkflowGetResultError::NotFound(_)) => {
                Err(ApiError::WorkflowNotFound(workflow_id.to_owned()))
            }
            Err(WorkflowGetResultError::Rpc(status)) => Err(rpc_error(status)),
            Err(other) => Err(ApiError::internal(other)),
        }
    }
}

fn interaction_error(error: WorkflowInteractionError, workflow_id: &str) -> ApiError {
    match error {
        WorkflowInteractionError::NotFound(_) => ApiError::WorkflowNotFound(workflow_id.to_owned()),
        WorkflowInteractionError::Rpc(status) => rpc_error(status),
        other => ApiError::internal(other),
    }
}

/// Transient server-side conditions are "unavailable" (503, retry); anything else is a bug or a
/// misconfiguration worth a log line with its cause.
fn rpc_error(status: Status) -> ApiError {
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::ResourceExhausted
        | Code::Aborted => ApiError::TemporalUnavailable(Unavailable {
            reason: format!("{:?}: {}", status.code(), status.message()),
        }),
        _ => ApiError::internal(status),
    }
}

/// The outermost failure's type and the whole cause chain's messages.
fn error_info(failure: &Failure) -> ErrorInfo {
    let mut messages = Vec::new();
    let mut error_type = None;
    let mut current = Some(failure);
    while let Some(f) = current {
        if !f.message.is_empty() {
            messages.push(f.message.clone());
        }
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info
            && !info.r#type.is_empty()
        {
            // The innermost application type is the most specific one.
            error_type = Some(info.r#type.clone());
        }
        current = f.cause.as_deref();
    }
    ErrorInfo {
        error_type: error_type.unwrap_or_else(|| failure_kind(failure).to_owned()),
        message: messages.join(": "),
    }
}

fn failure_kind(failure: &Failure) -> &'static str {
    match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(_)) | None => "ApplicationFailure",
        Some(FailureInfo::TimeoutFailureInfo(_)) => "TimeoutFailure",
        Some(FailureInfo::CanceledFailureInfo(_)) => "CanceledFailure",
        Some(FailureInfo::TerminatedFailureInfo(_)) => "TerminatedFailure",
        Some(FailureInfo::ServerFailureInfo(_)) => "ServerFailure",
        Some(FailureInfo::ActivityFailureInfo(_)) => "ActivityFailure",
        Some(FailureInfo::ChildWorkflowExecutionFailureInfo(_)) => "ChildWorkflowFailure",
        Some(_) => "Failure",
    }
}

/// A value as a standard `json/plain` payload, readable by every Temporal SDK.
fn json_payload(value: &impl Serialize) -> Result<Payload, serde_json::Error> {
    Ok(Payload {
        metadata: [(ENCODING_KEY.to_owned(), JSON_ENCODING.to_vec())].into(),
        data: serde_json::to_vec(value)?,
        ..Default::default()
    })
}

fn decode_result(raw: RawValue) -> anyhow::Result<serde_json::Value> {
    let Some(payload) = raw.payloads.into_iter().next() else {
        return Ok(serde_json::Value::Null);
    };
    match payload.metadata.get(ENCODING_KEY).map(Vec::as_slice) {
        Some(JSON_ENCODING) => Ok(serde_json::from_slice(&payload.data)?),
        Some(NULL_ENCODING) | None if payload.data.is_empty() => Ok(serde_json::Value::Null),
        other => anyhow::bail!(
            "workflow result has encoding {:?}, which the API cannot render as JSON",
            other.map(String::from_utf8_lossy)
        ),
    }
}

fn utc(time: SystemTime) -> DateTime<Utc> {
    time.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::failure::v1::{
        ActivityFailureInfo, ApplicationFailureInfo,
    };

    #[test]
    fn failures_report_the_innermost_application_type_and_every_message() {
        let failure = Failure {
            message: "activity task failed".into(),
            failure_info: Some(FailureInfo::ActivityFailureInfo(
                ActivityFailureInfo::default(),
            )),
            cause: Some(Box::new(Failure {
                message: "amount must be a positive integer, got 0".into(),
                failure_info: Some(FailureInfo::ApplicationFailureInfo(
                    ApplicationFailureInfo {
                        r#type: "InvalidShoppingList".into(),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            })),
            ..Default::default()
        };
        let info = error_info(&failure);
        assert_eq!(info.error_type, "InvalidShoppingList");
        assert_eq!(
            info.message,
            "activity task failed: amount must be a positive integer, got 0"
        );
    }

    #[test]
    fn json_payloads_round_trip() {
        let payload = json_payload(&serde_json::json!({"items": []})).unwrap();
        let value = decode_result(RawValue::new(vec![payload])).unwrap();
        assert_eq!(value, serde_json::json!({"items": []}));
    }

    #[test]
    fn foreign_encodings_are_reported_not_garbled() {
        let payload = Payload {
            metadata: [(ENCODING_KEY.to_owned(), b"binary/protobuf".to_vec())].into(),
            data: vec![1, 2, 3],
            ..Default::default()
        };
        assert!(decode_result(RawValue::new(vec![payload])).is_err());
    }
}
