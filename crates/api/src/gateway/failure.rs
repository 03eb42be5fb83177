//! Temporal's errors and failures as the API's answers: [`ApiError`]s, or a workflow's
//! [`Outcome`] when it ended without a result.

use flowgate_temporal::Unavailable;
use temporalio_client::{
    WorkflowExecutionStatus,
    errors::WorkflowInteractionError,
    tonic::{Code, Status},
};
use temporalio_common::{
    data_converters::RawValue,
    protos::temporal::api::{
        failure::v1::{Failure, failure::FailureInfo},
        history::v1::history_event::Attributes,
    },
};

use super::{ErrorInfo, Outcome, payload};
use crate::error::ApiError;

/// How a run ended, from its close event's `attributes`: its result, or how it ended without
/// one. A run that continued as new is `Running` (its workflow goes on in the next run).
pub(super) fn closed(attributes: Option<Attributes>) -> Result<Outcome, ApiError> {
    use WorkflowExecutionStatus as S;
    let unsuccessful = |status, error_type: &str, message: &str| Outcome::Unsuccessful {
        status,
        error: ErrorInfo {
            error_type: error_type.to_owned(),
            message: message.to_owned(),
        },
    };
    Ok(match attributes {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(completed)) => {
            let result = RawValue::new(completed.result.map(|r| r.payloads).unwrap_or_default());
            Outcome::Completed(payload::decode_result(result).map_err(ApiError::internal)?)
        }
        Some(Attributes::WorkflowExecutionFailedEventAttributes(failed)) => Outcome::Unsuccessful {
            status: S::Failed,
            error: error_info(&failed.failure.unwrap_or_default()),
        },
        Some(Attributes::WorkflowExecutionCanceledEventAttributes(_)) => {
            unsuccessful(S::Canceled, "CanceledFailure", "the workflow was canceled")
        }
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(_)) => unsuccessful(
            S::Terminated,
            "TerminatedFailure",
            "the workflow was terminated",
        ),
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => unsuccessful(
            S::TimedOut,
            "TimeoutFailure",
            "the workflow exceeded its execution or run timeout",
        ),
        Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(_)) => Outcome::Running,
        other => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "Temporal answered a read of the close event with another event: {:?}",
                other.map(|a| std::mem::discriminant(&a))
            )));
        }
    })
}

pub(super) fn interaction_error(error: WorkflowInteractionError, workflow_id: &str) -> ApiError {
    match error {
        WorkflowInteractionError::NotFound(_) => ApiError::WorkflowNotFound(workflow_id.to_owned()),
        WorkflowInteractionError::Rpc(status) => rpc_error(status),
        other => ApiError::internal(other),
    }
}

/// What Temporal's refusal of a read of `workflow_id` means: no such workflow (or run), or
/// [`rpc_error`].
pub(super) fn read_error(status: Status, workflow_id: &str) -> ApiError {
    match status.code() {
        Code::NotFound => ApiError::WorkflowNotFound(workflow_id.to_owned()),
        _ => rpc_error(status),
    }
}

/// Transient server-side conditions, and calls whose connection failed before Temporal
/// answered, are "unavailable" (503, retry); anything else is a bug or a misconfiguration worth
/// a log line with its cause.
pub(super) fn rpc_error(status: Status) -> ApiError {
    if flowgate_temporal::no_answer(&status) {
        return ApiError::TemporalUnavailable(Unavailable {
            reason: format!("no answer: {status}"),
        });
    }
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
pub(super) fn error_info(failure: &Failure) -> ErrorInfo {
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

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::failure::v1::{
        ActivityFailureInfo, ApplicationFailureInfo,
    };

    #[test]
    fn a_call_whose_connection_failed_is_unavailable_not_internal() {
        let reset = Status::from_error(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(matches!(rpc_error(reset), ApiError::TemporalUnavailable(_)));
        // Temporal's own `Unknown` answer is a bug worth a log line.
        let answered = Status::new(Code::Unknown, "answered");
        assert!(!matches!(
            rpc_error(answered),
            ApiError::TemporalUnavailable(_)
        ));
    }

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
}
