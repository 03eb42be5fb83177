//! Extractors of `/v1`: the registered workflow a start names, and the optional JSON body of
//! signals, queries, updates, cancels and terminations.

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};
use flowgate_workflows::registry::{self, InputIssue, WorkflowDef};
use serde_json::Value;

use crate::{
    error::{ApiError, FieldError},
    extract::{WorkflowIdPath, check_content_type, read_body},
    state::AppState,
};

/// The registered workflow named by the path, by route name or Temporal type; 404 (listing the
/// names) when there is none.
#[derive(Debug)]
pub(crate) struct RegisteredWorkflow(pub &'static WorkflowDef);

impl<S: Send + Sync> FromRequestParts<S> for RegisteredWorkflow {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let WorkflowIdPath(name) = WorkflowIdPath::from_request_parts(parts, state).await?;
        let registry = registry::registry();
        match registry.get(&name) {
            Some(def) => Ok(Self(def)),
            None => Err(ApiError::WorkflowTypeNotFound {
                name,
                known: registry.names(),
            }),
        }
    }
}

/// A body that may be empty: `None` without one, otherwise any JSON value (declared as JSON:
/// 415 if not; 400 if malformed; 413 above the body limit).
#[derive(Debug)]
pub(crate) struct OptionalJson(pub Option<Value>);

impl FromRequest<AppState> for OptionalJson {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        let body = read_body(request, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        check_content_type(content_type.as_ref())?;
        serde_json::from_slice(&body)
            .map(|value| Self(Some(value)))
            .map_err(|e| ApiError::MalformedJson(format!("malformed JSON: {e}")))
    }
}

/// The registry's issues as field errors under `prefix` (`/input` for a start's input).
pub(super) fn field_errors(prefix: &str, issues: Vec<InputIssue>) -> ApiError {
    ApiError::Validation(
        issues
            .into_iter()
            .map(|issue| FieldError::new(format!("{prefix}{}", issue.pointer), issue.detail))
            .collect(),
    )
}
