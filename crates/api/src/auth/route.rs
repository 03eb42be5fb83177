//! What each route does, in terms of permissions.

use axum::{
    extract::{FromRequestParts, MatchedPath, RawPathParams},
    http::{Method, request::Parts},
};
use flowgate_config::Action;

use crate::error::ApiError;

/// What a request acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Workflows of this route name (starts).
    Named(String),
    /// The workflow with this id; its type is known only after a describe.
    Workflow(String),
    /// Workflows of every type (list).
    All,
}

/// The action and target of the matched route; `None` for routes that need no permission
/// beyond a valid key (unknown paths, which answer 404 or 405).
pub(super) async fn required(parts: &mut Parts) -> Result<Option<(Action, Target)>, ApiError> {
    let Some(matched) = parts.extensions.get::<MatchedPath>().cloned() else {
        return Ok(None);
    };
    let read = parts.method == Method::GET || parts.method == Method::HEAD;
    let post = parts.method == Method::POST;
    let (action, by_id) = match matched.as_str() {
        "/workflows/shopping" | "/workflows/shopping/async" if post => {
            return Ok(Some((Action::Start, Target::Named("shopping".to_owned()))));
        }
        "/v1/workflows" if read => return Ok(Some((Action::Read, Target::All))),
        "/v1/workflows/{workflow_id}" if post => (Action::Start, false),
        "/workflows/{workflow_id}/status"
        | "/workflows/{workflow_id}/result"
        | "/v1/workflows/{workflow_id}"
        | "/v1/workflows/{workflow_id}/result"
            if read =>
        {
            (Action::Read, true)
        }
        "/v1/workflows/{workflow_id}/signals/{name}"
        | "/v1/workflows/{workflow_id}/queries/{name}"
        | "/v1/workflows/{workflow_id}/updates/{name}"
            if post =>
        {
            (Action::Message, true)
        }
        "/v1/workflows/{workflow_id}/cancel" | "/v1/workflows/{workflow_id}/terminate" if post => {
            (Action::Control, true)
        }
        _ => return Ok(None),
    };
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::InvalidPath(e.body_text()))?;
    let Some((_, id)) = params.iter().find(|(name, _)| *name == "workflow_id") else {
        return Ok(None);
    };
    let id = id.to_owned();
    Ok(Some((
        action,
        if by_id {
            Target::Workflow(id)
        } else {
            Target::Named(id)
        },
    )))
}
