//! Signals, queries and updates of a workflow, by id.
//!
//! The workflow is described first: its registered type (if any) decides which message names
//! exist and checks their argument, and its status refuses messages to an ended workflow (409).
//! The body is the message's argument itself, and may be empty for messages without one.

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use flowgate_workflows::registry::{self, Limits, Message};
use serde::Serialize;
use serde_json::Value;
use temporalio_client::WorkflowExecutionStatus;
use utoipa::ToSchema;

use super::{
    body::{OptionalJson, field_errors},
    idempotency,
    wait::WaitPreference,
};
use crate::{
    auth::Principal,
    error::{ApiError, FieldError, Problem},
    extract::{MessagePath, UpdatePath},
    gateway::{Execution, Keyed},
    state::AppState,
};

/// A kind of message.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Signal,
    Query,
    Update,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Signal => "signal",
            Kind::Query => "query",
            Kind::Update => "update",
        }
    }
}

/// Describes the workflow, and checks `argument` when its type is registered: the argument as
/// sent (unregistered types) or as normalised by the message's input type.
async fn prepare(
    state: &AppState,
    workflow_id: &str,
    kind: Kind,
    name: &str,
    argument: Option<Value>,
) -> Result<(Execution, Option<Value>), ApiError> {
    let (execution, message) = described(state, workflow_id, kind, name).await?;
    let argument = match message {
        Some(message) => check_argument(kind, message, argument, &state.limits)?,
        None => argument,
    };
    Ok((execution, argument))
}

/// Describes the workflow and finds message `name` of its registered type: `None` for a type
/// that is not registered (any name passes), a 404 naming the ones it has otherwise.
async fn described(
    state: &AppState,
    workflow_id: &str,
    kind: Kind,
    name: &str,
) -> Result<(Execution, Option<&'static Message>), ApiError> {
    let execution = state.gateway.describe_execution(workflow_id).await?;
    let Some(def) = registry::registry().by_type(&execution.workflow_type) else {
        return Ok((execution, None));
    };
    let messages = match kind {
        Kind::Signal => &def.signals,
        Kind::Query => &def.queries,
        Kind::Update => &def.updates,
    };
    let Some(message) = messages.iter().find(|m| m.name == name) else {
        let known = messages.iter().map(|m| m.name).collect::<Vec<_>>();
        return Err(ApiError::MessageNotFound {
            kind: kind.as_str(),
            name: name.to_owned(),
            workflow_type: def.temporal_type.to_owned(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        });
    };
    Ok((execution, Some(message)))
}

fn check_argument(
    kind: Kind,
    message: &Message,
    argument: Option<Value>,
    limits: &Limits,
) -> Result<Option<Value>, ApiError> {
    message_argument(kind.as_str(), message, argument, limits, "")
}

/// `argument` checked against `message`'s input type (a `kind` message), pointers under `at`:
/// none for a message that takes none, its normalised value otherwise.
pub(super) fn message_argument(
    kind: &str,
    message: &Message,
    argument: Option<Value>,
    limits: &Limits,
    at: &str,
) -> Result<Option<Value>, ApiError> {
    match (&message.input, argument) {
        (None, None | Some(Value::Null)) => Ok(None),
        (None, Some(Value::Object(map))) if map.is_empty() => Ok(None),
        (None, Some(_)) => Err(ApiError::Validation(vec![FieldError::new(
            at,
            format!(
                "{kind} {} takes no argument: {}",
                message.name,
                if at.is_empty() {
                    "send no body"
                } else {
                    "leave it out"
                }
            ),
        )])),
        (Some(input), argument) => input
            .decode(&argument.unwrap_or(Value::Null), limits)
            .map(Some)
            .map_err(|issues| field_errors(at, issues)),
    }
}

/// `error`, unless no worker polls the workflow's task queue: then that is what is wrong, and
/// the answer says so (a `kind` cannot run without one).
async fn unless_unserved(
    state: &AppState,
    execution: &Execution,
    kind: &'static str,
    retry: String,
    error: ApiError,
) -> ApiError {
    match state.gateway.is_served(&execution.task_queue).await {
        Ok(false) => ApiError::NoWorker {
            kind,
            task_queue: execution.task_queue.clone(),
            retry,
        },
        _ => error,
    }
}

pub(super) fn require_running(execution: &Execution) -> Result<(), ApiError> {
    if execution.status == WorkflowExecutionStatus::Running {
        Ok(())
    } else {
        Err(ApiError::WorkflowNotRunning(execution.workflow_id.clone()))
    }
}

/// It existed a moment ago: "not found" now means it has just ended.
pub(super) fn ended_meanwhile(error: ApiError) -> ApiError {
    match error {
        ApiError::WorkflowNotFound(id) => ApiError::WorkflowNotRunning(id),
        other => other,
    }
}

/// Answer to a message or control request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageOut {
    /// Workflow id.
    pub workflow_id: String,
    /// The run the message went to (the latest).
    pub run_id: String,
    /// What the request did (not where the run stands: that is `status` on describe).
    pub action: MessageAction,
    /// The query's or update's result (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The update's id (updates only; derived from `Idempotency-Key` when sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_id: Option<String>,
}

/// What a message or control request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MessageAction {
    /// The signal was delivered.
    Signaled,
    /// The query was answered (`result`).
    Queried,
    /// The update completed (`result`).
    Updated,
    /// Cancellation was requested; the workflow decides when it ends.
    CancelRequested,
    /// The run was terminated.
    Terminated,
}

impl MessageOut {
    pub(super) fn new(execution: Execution, action: MessageAction) -> Self {
        Self {
            workflow_id: execution.workflow_id,
            run_id: execution.run_id,
            action,
            result: None,
            update_id: None,
        }
    }
}

/// A keyed message: its id derives from the principal, the workflow id, the message, the key and
/// a hash of the argument, so a retry is deduplicated; its header records the key and that hash,
/// so [`check_key`] finds an earlier use of the key in the workflow's history.
fn keyed(
    key: Option<&str>,
    principal: Option<&Extension<Principal>>,
    workflow_id: &str,
    purpose: &str,
    argument: Option<&Value>,
) -> Option<Keyed> {
    let scope = idempotency::scope(principal.map(|Extension(p)| p), workflow_id);
    key.map(|key| {
        let record = idempotency::Idempotency::new(&scope, key, argument.unwrap_or(&Value::Null));
        Keyed {
            id: record.derived_request_id(purpose),
            key: record.key_hash().to_owned(),
            argument: record.request_hash(purpose),
        }
    })
}

/// [`prepare`] for a message that changes the workflow (signal, update): it must be running, and
/// its `Idempotency-Key`, if any, gives the message's id after a check that the key was not used
/// for another message or argument.
async fn prepare_keyed(
    state: &AppState,
    workflow_id: &str,
    kind: Kind,
    name: &str,
    body: Option<Value>,
    principal: Option<&Extension<Principal>>,
    headers: &HeaderMap,
) -> Result<(Execution, Option<Value>, Option<Keyed>), ApiError> {
    let key = idempotency::key(headers)?;
    let (execution, argument) = prepare(state, workflow_id, kind, name, body).await?;
    require_running(&execution)?;
    let keyed = keyed(
        key.as_deref(),
        principal,
        workflow_id,
        &format!("{}\0{name}", kind.as_str()),
        argument.as_ref(),
    );
    check_key(state, workflow_id, keyed.as_ref()).await?;
    Ok((execution, argument, keyed))
}

/// 422 when the workflow already received a message under this key with another message name
/// or argument; a retry (the same ones) passes, and Temporal deduplicates it by its id.
async fn check_key(
    state: &AppState,
    workflow_id: &str,
    keyed: Option<&Keyed>,
) -> Result<(), ApiError> {
    let Some(keyed) = keyed else {
        return Ok(());
    };
    match state
        .gateway
        .keyed_argument(workflow_id, &keyed.key)
        .await?
    {
        Some(earlier) if earlier != keyed.argument => {
            Err(ApiError::IdempotencyKeyReused(workflow_id.to_owned()))
        }
        _ => Ok(()),
    }
}

/// Send a signal (body: its argument; empty when it takes none).
#[utoipa::path(post, path = "/v1/workflows/{workflow_id}/signals/{name}", tag = "v1",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("name" = String, Path, description = "Signal name"),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", description = "Deduplicates retries of this signal; the same key with another argument or signal is a 422"),
    ),
    request_body(content = Option<Object>, description = "The signal's argument (any JSON for unregistered workflow types)"),
    responses(
        (status = 202, description = "Signal delivered to the workflow's history", body = MessageOut),
        (status = 400, description = "Malformed JSON or undecodable path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow, or its registered type has no such signal", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The workflow has ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid argument, or an Idempotency-Key used before with another argument or signal", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn send_signal(
    State(state): State<AppState>,
    MessagePath { workflow_id, name }: MessagePath,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson,
) -> Result<Response, ApiError> {
    let (execution, argument, keyed) = prepare_keyed(
        &state,
        &workflow_id,
        Kind::Signal,
        &name,
        body,
        principal.as_ref(),
        &headers,
    )
    .await?;
    state
        .gateway
        .signal(&workflow_id, &name, argument.as_ref(), keyed.as_ref())
        .await
        .map_err(ended_meanwhile)?;
    let out = MessageOut::new(execution, MessageAction::Signaled);
    Ok((StatusCode::ACCEPTED, Json(out)).into_response())
}

/// Run a query and return its result (body: its argument; empty when it takes none).
#[utoipa::path(post, path = "/v1/workflows/{workflow_id}/queries/{name}", tag = "v1",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("name" = String, Path, description = "Query name"),
    ),
    request_body(content = Option<Object>, description = "The query's argument"),
    responses(
        (status = 200, description = "The query's result in `result`", body = MessageOut),
        (status = 400, description = "Malformed JSON or undecodable path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow, or its registered type has no such query", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid argument, or the workflow could not answer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No worker polls the workflow's task queue (`no-worker`), Temporal is unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn run_query(
    State(state): State<AppState>,
    MessagePath { workflow_id, name }: MessagePath,
    OptionalJson(body): OptionalJson,
) -> Result<Json<MessageOut>, ApiError> {
    let (execution, argument) = prepare(&state, &workflow_id, Kind::Query, &name, body).await?;
    let result = match state
        .gateway
        .query(&workflow_id, &name, argument.as_ref())
        .await
    {
        Err(error @ ApiError::TemporalUnavailable(_)) => {
            return Err(unless_unserved(&state, &execution, "query", String::new(), error).await);
        }
        other => other?,
    };
    let mut out = MessageOut::new(execution, MessageAction::Queried);
    out.result = Some(result);
    Ok(Json(out))
}

/// Run an update and wait (up to api.result_wait) for its result.
#[utoipa::path(post, path = "/v1/workflows/{workflow_id}/updates/{name}", tag = "v1",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("name" = String, Path, description = "Update name"),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", description = "Makes the update id stable: a retry returns the first attempt's result; the same key with another argument or update is a 422"),
        ("wait" = Option<String>, Query, pattern = r"^([0-9]{1,9}(\.[0-9]{1,9})?|([0-9]{1,9}(ns|us|ms|s|m|h))+)$", description = "How long to wait for the update's result: seconds (`10`) or a duration (`500ms`); default and maximum api.result_wait."),
        ("Prefer" = Option<String>, Header, description = "RFC 7240 `wait=<seconds>`, used when `?wait` is absent; answered with `Preference-Applied`."),
    ),
    request_body(content = Option<Object>, description = "The update's argument"),
    responses(
        (status = 200, description = "The update's result in `result`", body = MessageOut),
        (status = 400, description = "Malformed JSON or undecodable path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow, or its registered type has no such update", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The workflow has ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid argument, the workflow rejected the update (its message in `detail`), or an Idempotency-Key used before with another argument or update", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No worker polls the workflow's task queue (`no-worker`), Temporal is unavailable", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The update did not complete within the wait", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn run_update(
    State(state): State<AppState>,
    MessagePath { workflow_id, name }: MessagePath,
    principal: Option<Extension<Principal>>,
    wait: WaitPreference,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson,
) -> Result<Response, ApiError> {
    let (execution, argument, keyed) = prepare_keyed(
        &state,
        &workflow_id,
        Kind::Update,
        &name,
        body,
        principal.as_ref(),
        &headers,
    )
    .await?;
    let update_id = keyed
        .as_ref()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), |k| k.id.clone());
    let result = match state
        .gateway
        .update(
            &workflow_id,
            &name,
            argument.as_ref(),
            update_id.clone(),
            keyed.as_ref(),
            wait.or_longest(),
        )
        .await
        .map_err(ended_meanwhile)
    {
        // A drain ends the wait too: then the answer is the timeout's, whoever serves the queue.
        Err(ApiError::UpdateTimedOut {
            update_id,
            waited,
            result_path,
        }) if !state.is_draining() => {
            let retry = format!(
                "; the update may still run when one does: GET {result_path} (with ?wait=) fetches its result, as does a retry with the same Idempotency-Key"
            );
            let error = ApiError::UpdateTimedOut {
                update_id,
                waited,
                result_path,
            };
            return Err(unless_unserved(&state, &execution, "update", retry, error).await);
        }
        other => other?,
    };
    let mut out = MessageOut::new(execution, MessageAction::Updated);
    out.result = Some(result);
    out.update_id = Some(update_id);
    let mut response = Json(out).into_response();
    response.headers_mut().extend(wait.headers());
    Ok(response)
}

/// The result of an update sent earlier (e.g. one whose wait ended in a 504): at once by
/// default, or after waiting up to `wait` (or `Prefer: wait`) for it to complete.
#[utoipa::path(get, path = "/v1/workflows/{workflow_id}/updates/{name}/{update_id}", tag = "v1",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("name" = String, Path, description = "Update name"),
        ("update_id" = String, Path, description = "The update's id, as its answer (or its 504) gave it"),
        ("wait" = Option<String>, Query, pattern = r"^([0-9]{1,9}(\.[0-9]{1,9})?|([0-9]{1,9}(ns|us|ms|s|m|h))+)$", description = "How long to wait for the update to complete: seconds (`10`) or a duration (`500ms`); capped at api.result_wait. Default: answer at once."),
        ("Prefer" = Option<String>, Header, description = "RFC 7240 `wait=<seconds>`, used when `?wait` is absent; answered with `Preference-Applied`."),
    ),
    responses(
        (status = 200, description = "The update's result in `result`", body = MessageOut),
        (status = 400, description = "Invalid workflow or update id in the path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow, no such update on its type, or no update with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The workflow rejected the update, or an invalid wait", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The update did not complete within the wait", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_update_result(
    State(state): State<AppState>,
    UpdatePath {
        workflow_id,
        name,
        update_id,
    }: UpdatePath,
    wait: WaitPreference,
) -> Result<Response, ApiError> {
    let (execution, _) = described(&state, &workflow_id, Kind::Update, &name).await?;
    let result = state
        .gateway
        .update_result(&workflow_id, &name, &update_id, wait.or_none())
        .await?;
    let mut out = MessageOut::new(execution, MessageAction::Updated);
    out.result = Some(result);
    out.update_id = Some(update_id);
    let mut response = Json(out).into_response();
    response.headers_mut().extend(wait.headers());
    Ok(response)
}
