//! What a call can fail with: the API's RFC 9457 problem documents, transport failures and
//! answers that do not have the documented shape.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An error of a [`Client`](crate::Client) call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an RFC 9457 problem document (`application/problem+json`).
    #[error("{} {}: {}", .0.status, .0.title, .0.detail)]
    Problem(Box<Problem>),
    /// The request did not get an answer: connection, TLS or timeout failure.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The answer's body does not have the documented shape.
    #[error("cannot decode the {status} answer: {source}")]
    Decode {
        /// HTTP status of the answer.
        status: u16,
        /// Why decoding failed.
        #[source]
        source: serde_json::Error,
    },
    /// An error status without a problem document (e.g. from a proxy in front of the API).
    #[error("unexpected {status} answer: {body}")]
    Unexpected {
        /// HTTP status of the answer.
        status: u16,
        /// The answer's body as text (at most 1 KiB).
        body: String,
    },
    /// A request body or argument could not be serialised to JSON.
    #[error("cannot encode the request as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// The base URL is not an absolute `http`/`https` URL.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value given to the builder or a call is not valid HTTP.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// An event stream ([`Client::events`](crate::Client::events)) sent nothing, not even a
    /// heartbeat, for this long: the connection is taken for lost.
    #[error("the event stream sent nothing for {0:?}")]
    StreamStalled(Duration),
    /// [`Client::wait_for_result`](crate::Client::wait_for_result) gave up: the workflow was
    /// still running when the overall timeout passed.
    #[error("workflow {workflow_id} still running after {waited:?}")]
    WaitTimedOut {
        /// The workflow waited for.
        workflow_id: String,
        /// How long it was waited for.
        waited: Duration,
    },
}

impl Error {
    /// The problem document, when the API answered with one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Problem(problem) => Some(problem),
            _ => None,
        }
    }

    /// The problem's stable `code` (e.g. `validation-failed`), when the API answered with one.
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|p| p.code.as_str())
    }
}

/// An RFC 9457 problem document, as every Flowgate error answer carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// URI naming the problem type: `urn:flowgate:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// Stable machine-readable code (the last part of `type`), e.g. `validation-failed`.
    pub code: String,
    /// Offending fields (validation errors only).
    #[serde(default)]
    pub errors: Vec<FieldError>,
    /// The request path.
    #[serde(default)]
    pub instance: Option<String>,
    /// The request's `x-request-id`, to find it in the logs.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The request's OpenTelemetry trace id, when traces are exported.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The `Retry-After` header of the answer (429 and 503), in seconds; not part of the body.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
    /// Extension members this client does not know (RFC 9457 §3.2).
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) to the field in the request body, e.g. `/input/items/0/amount`.
    pub pointer: String,
    /// What is wrong with it.
    pub detail: String,
}
