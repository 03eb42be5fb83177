//! The label values of the Temporal metrics, each from a small fixed set.

use crate::error::ApiError;

/// How a request to start a workflow ended (`outcome` of `flowgate_workflow_starts_total`).
/// Requests rejected before Temporal is asked (validation, 4xx) are not starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartOutcome {
    /// Temporal accepted the workflow.
    Started,
    /// The chosen workflow id was used before (409).
    AlreadyExists,
    /// Temporal was unreachable or did not answer in time (503). The workflow may still have
    /// started if the answer, not the request, was lost.
    Unavailable,
    /// Anything else (500).
    Error,
}

impl StartOutcome {
    /// Every outcome.
    pub(crate) const ALL: [Self; 4] = [
        Self::Started,
        Self::AlreadyExists,
        Self::Unavailable,
        Self::Error,
    ];

    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::AlreadyExists => "already_exists",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
        }
    }

    /// The outcome of a start that returned `result`.
    pub(crate) fn of<T>(result: &Result<T, ApiError>) -> Self {
        match result {
            Ok(_) => Self::Started,
            Err(ApiError::WorkflowAlreadyExists(_)) => Self::AlreadyExists,
            Err(ApiError::TemporalUnavailable(_)) => Self::Unavailable,
            Err(_) => Self::Error,
        }
    }
}

/// A Temporal call the API makes (`operation` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalOperation {
    /// Start a workflow.
    Start,
    /// Describe a workflow (status, times).
    Describe,
    /// Wait for a workflow's result (a long poll, bounded by the request's wait).
    GetResult,
    /// Send a signal.
    Signal,
    /// Run a query.
    Query,
    /// Run an update and wait for its result (bounded by `api.result_wait`).
    Update,
    /// Fetch the result of an update sent earlier (bounded by the request's wait).
    UpdateResult,
    /// Request cancellation.
    Cancel,
    /// Terminate.
    Terminate,
    /// List workflows (visibility query).
    List,
    /// Read a workflow's history (a keyed message looks for an earlier use of its key).
    History,
    /// Ask whether workers poll a task queue (after a query or update found no answer).
    DescribeTaskQueue,
    /// Wait for a run's next history event (a long poll of an event stream).
    WatchHistory,
}

impl TemporalOperation {
    /// Every operation.
    pub const ALL: [Self; 13] = [
        Self::Start,
        Self::Describe,
        Self::GetResult,
        Self::Signal,
        Self::Query,
        Self::Update,
        Self::UpdateResult,
        Self::Cancel,
        Self::Terminate,
        Self::List,
        Self::History,
        Self::DescribeTaskQueue,
        Self::WatchHistory,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Describe => "describe",
            Self::GetResult => "get_result",
            Self::Signal => "signal",
            Self::Query => "query",
            Self::Update => "update",
            Self::UpdateResult => "update_result",
            Self::Cancel => "cancel",
            Self::Terminate => "terminate",
            Self::List => "list",
            Self::History => "get_history",
            Self::DescribeTaskQueue => "describe_task_queue",
            Self::WatchHistory => "watch_history",
        }
    }
}

/// Why a Temporal call failed (`reason` label). Definite answers — no such workflow, id already
/// used — are not failures: Temporal answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// No connection, the reachability check failed, or Temporal said it is unavailable.
    Unavailable,
    /// No answer within `temporal.rpc_timeout` (not for result waits and updates, whose bound
    /// is the request's wait).
    Timeout,
    /// Anything else: an unexpected status or a result the API cannot read.
    Error,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [Self::Unavailable, Self::Timeout, Self::Error];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }

    /// The reason a call failed with `error`, if it is a failure; `hit_bound` when the call took
    /// its whole time budget.
    pub fn of(error: &ApiError, hit_bound: bool) -> Option<Self> {
        match error {
            ApiError::TemporalUnavailable(_) if hit_bound => Some(Self::Timeout),
            ApiError::TemporalUnavailable(_) => Some(Self::Unavailable),
            ApiError::Internal(_) => Some(Self::Error),
            _ => None,
        }
    }
}

/// Why the API's protection answered a request itself (`reason` of
/// `flowgate_http_rejected_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RejectReason {
    /// Over the client's rate (429).
    RateLimited,
    /// `limits.max_concurrent_requests` in flight already (503).
    Overloaded,
    /// The client has `limits.max_concurrent_per_client` in flight already (503).
    ClientOverloaded,
    /// The client address failed to authenticate `limits.failed_auth_per_minute` times (429).
    FailedAuthLimited,
    /// Over `api.request_timeout` (504).
    Timeout,
    /// No valid API key or token (401).
    Unauthenticated,
    /// The principal has no permission for the action on the workflow (403).
    Forbidden,
}

impl RejectReason {
    /// Every reason.
    pub(crate) const ALL: [Self; 7] = [
        Self::RateLimited,
        Self::Overloaded,
        Self::ClientOverloaded,
        Self::FailedAuthLimited,
        Self::Timeout,
        Self::Unauthenticated,
        Self::Forbidden,
    ];

    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::ClientOverloaded => "client_overloaded",
            Self::FailedAuthLimited => "failed_auth_limited",
            Self::Timeout => "timeout",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_not_failures_but_outages_and_bugs_are() {
        let unavailable = ApiError::TemporalUnavailable(flowgate_temporal::Unavailable {
            reason: "down".into(),
        });
        assert_eq!(
            FailureReason::of(&unavailable, false),
            Some(FailureReason::Unavailable)
        );
        assert_eq!(
            FailureReason::of(&unavailable, true),
            Some(FailureReason::Timeout)
        );
        assert_eq!(
            FailureReason::of(&ApiError::internal(anyhow::anyhow!("bug")), false),
            Some(FailureReason::Error)
        );
        assert_eq!(
            FailureReason::of(&ApiError::WorkflowNotFound("x".into()), false),
            None
        );
        assert_eq!(
            StartOutcome::of::<()>(&Err(ApiError::WorkflowAlreadyExists("x".into()))),
            StartOutcome::AlreadyExists
        );
    }
}
