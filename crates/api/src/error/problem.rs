//! The problem document itself, and the middleware that writes it for every error response.

use axum::{
    extract::Request,
    http::{HeaderValue, StatusCode, Uri, header},
    response::Response,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::around::Around;

/// Media type of error bodies.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

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

/// Writes problem bodies: fills `instance`, `request_id` and `trace_id` into problems raised by
/// handlers, and turns any other error response into a problem of the same status. Runs inside
/// the request span, whose trace id it reports.
#[derive(Clone, Copy)]
pub(crate) struct RenderProblems;

/// What [`RenderProblems`] keeps of a request: its URI and id, as they are (reference-counted),
/// made strings only for a problem.
pub(crate) struct Origin {
    uri: Uri,
    request_id: Option<HeaderValue>,
}

impl Around for RenderProblems {
    type Kept = Origin;

    fn before(&self, request: &Request) -> Origin {
        Origin {
            uri: request.uri().clone(),
            request_id: request.headers().get("x-request-id").cloned(),
        }
    }

    fn after(Origin { uri, request_id }: Origin, mut response: Response) -> Response {
        let status = response.status();
        let problem = match response.extensions_mut().remove::<Problem>() {
            Some(problem) => problem,
            None if is_unrendered_error(&response) => generic_problem(status),
            None => return response,
        };
        let problem = Problem {
            instance: Some(uri.path().to_owned()),
            request_id: request_id.and_then(|v| v.to_str().ok().map(str::to_owned)),
            // Still inside the request span.
            trace_id: crate::trace::current_trace_id(),
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
