//! Every error the API answers with, as RFC 9457 `application/problem+json`.
//!
//! Handlers return [`ApiError`]; its response carries a [`Problem`] in the response extensions,
//! and [`RenderProblems`] (the outermost middleware that knows the request) fills in `instance`,
//! `request_id` and `trace_id` and writes the body. Any other 4xx/5xx that reaches it without a
//! problem (from a layer or a library) is turned into one, so clients see one error format.

mod panic;
mod problem;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use flowgate_temporal::Unavailable;

pub(crate) use panic::CatchPanicLayer;
pub(crate) use problem::{FieldError, Problem, RenderProblems};

/// Seconds a client should wait before retrying while Temporal is unavailable or the API is
/// overloaded.
const RETRY_AFTER_SECS: &str = "1";

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON.
    #[error("{0}")]
    MalformedJson(String),
    /// The body is not declared as JSON.
    #[error("expected a JSON body with Content-Type: application/json, got {0}")]
    UnsupportedMediaType(String),
    /// The body is larger than allowed.
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is JSON but not an acceptable request.
    #[error("{}", summarize(.0))]
    Validation(Vec<FieldError>),
    /// A query parameter is not acceptable.
    #[error("query parameter {name}: {problem}")]
    InvalidQuery {
        /// Parameter name.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A path parameter cannot be decoded.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// No workflow with that id.
    #[error("no workflow with id {0:?}")]
    WorkflowNotFound(String),
    /// The workflow's run named no callbacks (or no such run).
    #[error("workflow {0:?} has no callbacks")]
    CallbacksNotFound(String),
    /// The workflow started, but the delivery of its callbacks could not be set up.
    #[error(
        "workflow {0:?} started, but its callbacks could not be registered; retry the request with the same Idempotency-Key (it returns the same run and registers them)"
    )]
    CallbacksNotRegistered(String),
    /// A workflow with that id exists already.
    #[error("a workflow with id {0:?} already exists")]
    WorkflowAlreadyExists(String),
    /// No such route.
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// No registered workflow has that route name.
    #[error("no workflow named {name:?} is registered; registered: {known}")]
    WorkflowTypeNotFound {
        /// The name asked for.
        name: String,
        /// The registered names, comma separated.
        known: String,
    },
    /// The workflow's registered type has no such signal, query or update.
    #[error("workflow type {workflow_type} has no {kind} named {name:?}; it has: {known}")]
    MessageNotFound {
        /// `signal`, `query` or `update`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The workflow's Temporal type.
        workflow_type: String,
        /// The names it has, comma separated.
        known: String,
    },
    /// The workflow has ended; it takes no more signals, updates, cancels or terminations.
    #[error("workflow {0:?} is not running")]
    WorkflowNotRunning(String),
    /// An `Idempotency-Key` reused with a different request.
    #[error(
        "the Idempotency-Key was already used for workflow {0:?} with a different request body; use a new key for a new request"
    )]
    IdempotencyKeyReused(String),
    /// A request header is not acceptable.
    #[error("header {name}: {problem}")]
    InvalidHeader {
        /// Header name.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Temporal refused a visibility (list) query.
    #[error("invalid visibility query: {0}")]
    InvalidVisibilityQuery(String),
    /// The workflow rejected an update (its validator or handler failed).
    #[error("the workflow rejected the update: {0}")]
    UpdateRejected(String),
    /// The workflow could not answer a query (unknown query, or its handler failed).
    #[error("the workflow could not answer the query: {0}")]
    QueryFailed(String),
    /// An update was sent but did not complete within the wait.
    #[error(
        "update {update_id:?} did not complete within {waited}; it may still complete: GET {result_path} (with ?wait=) fetches its result, as does a retry with the same Idempotency-Key"
    )]
    UpdateTimedOut {
        /// The update's id.
        update_id: String,
        /// How long the API waited, human readable.
        waited: String,
        /// Where its result can be fetched.
        result_path: String,
    },
    /// No update with that id was sent to the workflow's latest run.
    #[error("no update with id {0:?} was sent to the workflow's latest run")]
    UpdateNotFound(String),
    /// A query or update could not run because no worker polls the workflow's task queue.
    #[error(
        "no worker is polling task queue {task_queue:?}, so the {kind} cannot run; start a worker for it{retry}"
    )]
    NoWorker {
        /// `query` or `update`.
        kind: &'static str,
        /// The workflow's task queue.
        task_queue: String,
        /// Advice on what happens next, when there is any (`; the update may still run ...`).
        retry: String,
    },
    /// Temporal refused the request as invalid (e.g. an undefined search attribute).
    #[error("Temporal rejected the request: {0}")]
    TemporalRejected(String),
    /// The route exists, the method does not.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// The process cannot take traffic now (shutting down: `/readyz` while draining). The reason
    /// is a plain sentence for anyone to read: never an address or a transport error.
    #[error("not ready: {0}")]
    NotReady(String),
    /// No API key, or one that is not configured (`auth.enabled`).
    #[error("{0}")]
    Unauthenticated(String),
    /// The API key has no permission for this action on this workflow.
    #[error("{0}")]
    Forbidden(String),
    /// The client made more requests than `limits.rate_per_second` / `limits.burst` allow.
    #[error("too many requests from this client; retry in {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds until a request will be accepted again (`Retry-After`).
        retry_after_secs: u64,
    },
    /// `limits.max_concurrent_requests` are in flight already; shed instead of queued.
    #[error("the API is handling as many requests as it may at once; retry shortly")]
    Overloaded,
    /// As many event streams are open as `api.events.*` allow (in total, or for this client).
    #[error("{0}")]
    TooManyStreams(String),
    /// The request took longer than `api.request_timeout`.
    #[error("the request did not complete within {0}")]
    RequestTimeout(String),
    /// Temporal cannot be reached or does not answer. The client reads one plain sentence; why
    /// (Temporal's address, the transport error) goes to the log only.
    #[error("Temporal is unavailable; retry shortly")]
    TemporalUnavailable(#[from] Unavailable),
    /// A bug. Logged with its cause; the client sees nothing of it.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

fn summarize(errors: &[FieldError]) -> String {
    // `errors` lists them all; the summary names the first few.
    const NAMED: usize = 5;
    let mut summary = errors
        .iter()
        .take(NAMED)
        .map(|e| format!("{}: {}", pointer_to_path(&e.pointer), e.detail))
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > NAMED {
        summary.push_str(&format!("; and {} more (see errors)", errors.len() - NAMED));
    }
    summary
}

/// `/items/0/amount` → `items[0].amount`, the way people name fields.
fn pointer_to_path(pointer: &str) -> String {
    let mut path = String::new();
    for segment in pointer.split('/').skip(1) {
        if segment.parse::<usize>().is_ok() {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment.replace("~1", "/").replace("~0", "~"));
        }
    }
    if path.is_empty() {
        "body".to_owned()
    } else {
        path
    }
}

impl ApiError {
    /// Wraps an unexpected error.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::MalformedJson(_) => (S::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            Self::UnsupportedMediaType(_) => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::PayloadTooLarge { .. } => (
                S::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Self::Validation(_) => (
                S::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "Request validation failed",
            ),
            Self::InvalidQuery { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-query",
                "Invalid query parameter",
            ),
            Self::InvalidPath(_) => (S::BAD_REQUEST, "invalid-path", "Invalid path"),
            Self::WorkflowNotFound(_) => (S::NOT_FOUND, "workflow-not-found", "Workflow not found"),
            Self::CallbacksNotFound(_) => {
                (S::NOT_FOUND, "callbacks-not-found", "Callbacks not found")
            }
            Self::CallbacksNotRegistered(_) => (
                S::SERVICE_UNAVAILABLE,
                "callbacks-not-registered",
                "Callbacks not registered",
            ),
            Self::WorkflowAlreadyExists(_) => (
                S::CONFLICT,
                "workflow-already-exists",
                "Workflow already exists",
            ),
            Self::RouteNotFound(_) => (S::NOT_FOUND, "route-not-found", "Not found"),
            Self::WorkflowTypeNotFound { .. } => (
                S::NOT_FOUND,
                "workflow-type-not-found",
                "Workflow type not found",
            ),
            Self::MessageNotFound { .. } => {
                (S::NOT_FOUND, "message-not-found", "Message not found")
            }
            Self::WorkflowNotRunning(_) => {
                (S::CONFLICT, "workflow-not-running", "Workflow not running")
            }
            Self::IdempotencyKeyReused(_) => (
                S::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused with a different request",
            ),
            Self::InvalidHeader { .. } => (S::BAD_REQUEST, "invalid-header", "Invalid header"),
            Self::InvalidVisibilityQuery(_) => (
                S::BAD_REQUEST,
                "invalid-visibility-query",
                "Invalid visibility query",
            ),
            Self::UpdateRejected(_) => (
                S::UNPROCESSABLE_ENTITY,
                "update-rejected",
                "Update rejected",
            ),
            Self::QueryFailed(_) => (S::UNPROCESSABLE_ENTITY, "query-failed", "Query failed"),
            Self::UpdateNotFound(_) => (S::NOT_FOUND, "update-not-found", "Update not found"),
            Self::UpdateTimedOut { .. } => (
                S::GATEWAY_TIMEOUT,
                "update-timed-out",
                "Update did not complete in time",
            ),
            Self::NoWorker { .. } => (
                S::SERVICE_UNAVAILABLE,
                "no-worker",
                "No worker serves this workflow",
            ),
            Self::TemporalRejected(_) => (
                S::UNPROCESSABLE_ENTITY,
                "temporal-rejected",
                "Temporal rejected the request",
            ),
            Self::MethodNotAllowed(_) => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::NotReady(_) => (S::SERVICE_UNAVAILABLE, "not-ready", "Not ready"),
            Self::Unauthenticated(_) => (S::UNAUTHORIZED, "unauthenticated", "Unauthenticated"),
            Self::Forbidden(_) => (S::FORBIDDEN, "forbidden", "Forbidden"),
            Self::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            Self::Overloaded => (S::SERVICE_UNAVAILABLE, "overloaded", "Overloaded"),
            Self::TooManyStreams(_) => (
                S::TOO_MANY_REQUESTS,
                "too-many-streams",
                "Too many event streams",
            ),
            Self::RequestTimeout(_) => (S::GATEWAY_TIMEOUT, "request-timeout", "Request timed out"),
            Self::TemporalUnavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "temporal-unavailable",
                "Temporal is unavailable",
            ),
            Self::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "internal-error",
                "Internal server error",
            ),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        let detail = match self {
            Self::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("urn:flowgate:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            instance: None,
            code: code.to_owned(),
            request_id: None,
            trace_id: None,
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed with an internal error")
            }
            Self::TemporalUnavailable(e) => {
                tracing::warn!(reason = %e.reason, "Temporal unavailable")
            }
            _ => {}
        }
        let problem = self.problem();
        let mut response = StatusCode::from_u16(problem.status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
        let retry_after = match &self {
            Self::TemporalUnavailable(_)
            | Self::Overloaded
            | Self::TooManyStreams(_)
            | Self::CallbacksNotRegistered(_) => Some(HeaderValue::from_static(RETRY_AFTER_SECS)),
            Self::RateLimited { retry_after_secs } => Some(HeaderValue::from(*retry_after_secs)),
            _ => None,
        };
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if matches!(self, Self::Unauthenticated(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"flowgate\""),
            );
        }
        response.extensions_mut().insert(problem);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_as_field_paths() {
        assert_eq!(pointer_to_path("/items/0/amount"), "items[0].amount");
        assert_eq!(pointer_to_path("/items"), "items");
        assert_eq!(pointer_to_path(""), "body");
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let problem = ApiError::internal(anyhow::anyhow!("database password is hunter2")).problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("hunter2"));
    }

    #[test]
    fn temporal_outages_do_not_leak_their_cause() {
        let problem = ApiError::from(Unavailable {
            reason: "not connected yet: tonic::transport::Error(Transport, ConnectError(\"tcp connect error\", 10.0.0.7:7233))".to_owned(),
        })
        .problem();
        assert_eq!(problem.status, 503);
        assert_eq!(problem.detail, "Temporal is unavailable; retry shortly");
    }

    #[test]
    fn validation_problems_name_every_field() {
        let problem = ApiError::Validation(vec![
            FieldError::new("/items/0/amount", "must be at least 1"),
            FieldError::new("/items/1/fruit", "unknown fruit"),
        ])
        .problem();
        assert_eq!(
            problem.detail,
            "items[0].amount: must be at least 1; items[1].fruit: unknown fruit"
        );
        assert_eq!(problem.errors.len(), 2);
    }

    proptest::proptest! {
        #[test]
        fn any_pointer_reads_as_a_path_without_panicking(pointer in "(/[^/]{0,6}){0,5}") {
            let path = pointer_to_path(&pointer);
            proptest::prop_assert!(!path.is_empty());
        }

        #[test]
        fn escaped_field_names_read_back_unescaped(names in proptest::collection::vec("[a-z~/]{1,6}", 1..4)) {
            let pointer: String = names
                .iter()
                .map(|n| format!("/{}", n.replace('~', "~0").replace('/', "~1")))
                .collect();
            let path = pointer_to_path(&pointer);
            for name in &names {
                proptest::prop_assert!(path.contains(name.as_str()), "{} {}", pointer, path);
            }
        }
    }
}
