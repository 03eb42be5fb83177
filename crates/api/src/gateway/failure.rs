//! Temporal's errors and failures as the API's answers: [`ApiError`]s, or a workflow's
//! [`Outcome`] when it ended without a result.

use flowgate_temporal::Unavailable;
use temporalio_client::{
    WorkflowExecutionStatus,
    errors::{WorkflowGetResultError, WorkflowInteractionError},
    tonic::{Code, Status},
};
use temporalio_common::protos::temporal::api::failure::v1::{Failure, failure::FailureInfo};

use super::{ErrorInfo, Outcome};
use crate::error::ApiError;

/// What waiting for `workflow_id`'s result ending in `error` means: how the workflow ended
/// without a result, or why it could not be told.
pub(super) fn unfinished(
    error: WorkflowGetResultError,
    workflow_id: &str,
) -> Result<Outcome, ApiError> {
    use WorkflowExecutionStatus as S;
    let unsuccessful = |status, error_type: &str, message: String| Outcome::Unsuccessful {
        status,
        error: ErrorInfo {
            error_type: error_type.to_owned(),
            message,
        },
    };
    match error {
        WorkflowGetResultError::Failed(failed) => Ok(Outcome::Unsuccessful {
            status: S::Failed,
            error: error_info(failed.failure()),
        }),
        WorkflowGetResultError::Cancelled { .. } => Ok(unsuccessful(
            S::Canceled,
            "CanceledFailure",
            "the workflow was canceled".to_owned(),
        )),
        WorkflowGetResultError::Terminated { .. } => Ok(unsuccessful(
            S::Terminated,
            "TerminatedFailure",
            "the workflow was terminated".to_owned(),
        )),
        WorkflowGetResultError::TimedOut => Ok(unsuccessful(
            S::TimedOut,
            "TimeoutFailure",
            "the workflow exceeded its execution or run timeout".to_owned(),
        )),
        WorkflowGetResultError::ContinuedAsNew => Ok(Outcome::Running),
        WorkflowGetResultError::NotFound(_) => {
            Err(ApiError::WorkflowNotFound(workflow_id.to_owned()))
        }
        WorkflowGetResultError::Rpc(status) => Err(rpc_error(status)),
        other => Err(ApiError::internal(other)),
    }
}

pub(super) fn interaction_error(error: WorkflowInteractionError, workflow_id: &str) -> ApiError {
    match error {
        WorkflowInteractionError::NotFound(_) => ApiError::WorkflowNotFound(workflow_id.to_owned()),
        WorkflowInteractionError::Rpc(status) => rpc_error(status),
        other => ApiError::internal(other),
    }
}

/// Transient server-side conditions are "unavailable" (503, retry); anything else is a bug or a
/// misconfiguration worth a log line with its cause.
pub(super) fn rpc_error(status: Status) -> ApiError {
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
