//! Every error the API answers with, as RFC 9457 `application/problem+json`.
//!
//! Handlers return [`ApiError`]; its response carries a [`Problem`] in the response extensions,
//! and [`render_problems`] (the outermost middleware that knows the request) fills in `instance`,
//! `request_id` and `trace_id` and writes the body. Any other 4xx/5xx that reaches it without a
//! problem (from a layer or a library) is turned into one, so clients see one error format.

use axum::{
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use flowgate_temporal::Unavailable;
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client should wait before retrying while Temporal is unavailable.
const RETRY_AFTER_SECS: &str = "1";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem type: `urn:flowgate:problem:<code>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:flowgate:problem:validation-failed")]
    pub problem_type: String,
    /// Short summary of the problem type.
    #[schema(example = "Request validation failed")]
    pub title: String,
    /// HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong with this request.
    #[schema(example = "items[0].amount: must be at least 1")]
    pub detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Stable machine-readable code (the last part of `type`).
    #[schema(example = "validation-failed")]
    pub code: String,
    /// The request's `x-request-id`, to find it in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The request's OpenTelemetry trace id, to find its trace (and its log lines); present
    /// when traces are exported.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "4bf92f3577b34da6a3ce929d0e0e4736")]
    pub trace_id: Option<String>,
    /// Offending fields (validation errors only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) to the field in the request body, e.g. `/items/0/amount`.
    #[schema(example = "/items/0/amount")]
    pub pointer: String,
    /// What is wrong with it.
    #[schema(example = "must be at least 1")]
    pub detail: String,
}

impl FieldError {
    /// An error at `pointer`.
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

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
    /// A workflow with that id exists already.
    #[error("a workflow with id {0:?} already exists")]
    WorkflowAlreadyExists(String),
    /// No such route.
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// The route exists, the method does not.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// The process cannot take traffic now (Temporal unreachable, or shutting down).
    #[error("not ready: {0}")]
    NotReady(String),
    /// Temporal cannot be reached or does not answer.
    #[error("{0}")]
    TemporalUnavailable(#[from] Unavailable),
    /// A bug. Logged with its cause; the client sees nothing of it.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", pointer_to_path(&e.pointer), e.detail))
        .collect::<Vec<_>>()
        .join("; ")
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
            Self::WorkflowAlreadyExists(_) => (
                S::CONFLICT,
                "workflow-already-exists",
                "Workflow already exists",
            ),
            Self::RouteNotFound(_) => (S::NOT_FOUND, "route-not-found", "Not found"),
            Self::MethodNotAllowed(_) => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::NotReady(_) => (S::SERVICE_UNAVAILABLE, "not-ready", "Not ready"),
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
        if matches!(self, Self::TemporalUnavailable(_)) {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response.extensions_mut().insert(problem);
        response
    }
}

/// Turns a panic in a handler into an opaque 500, logged with the panic message.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// Writes problem bodies: fills `instance`, `request_id` and `trace_id` into problems raised by
/// handlers, and turns any other error response into a problem of the same status. Runs inside
/// the request span, whose trace id it reports.
pub async fn render_problems(request: Request, next: Next) -> Response {
    let instance = request.uri().path().to_owned();
    let trace_id = crate::trace::current_trace_id();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut response = next.run(request).await;
    let status = response.status();
    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if is_unrendered_error(&response) => generic_problem(status),
        None => return response,
    };
    let problem = Problem {
        instance: Some(instance),
        request_id,
        trace_id,
        ..problem
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn is_unrendered_error(response: &Response) -> bool {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    (response.status().is_client_error() || response.status().is_server_error()) && !is_problem
}

fn generic_problem(status: StatusCode) -> Problem {
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    let code = title.to_lowercase().replace(' ', "-");
    Problem {
        problem_type: format!("urn:flowgate:problem:{code}"),
        detail: title.clone(),
        title,
        status: status.as_u16(),
        instance: None,
        code,
        request_id: None,
        trace_id: None,
        errors: Vec::new(),
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
    fn a_panic_becomes_an_opaque_500_problem() {
        let response = panic_response(Box::new("index out of bounds: secret detail".to_owned()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let problem = response
            .extensions()
            .get::<Problem>()
            .expect("rendered as a problem");
        assert_eq!(problem.code, "internal-error");
        assert!(
            !problem.detail.contains("secret detail"),
            "{}",
            problem.detail
        );
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
}
