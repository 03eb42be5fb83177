//! `POST /v1/workflow-types/{name}/start` (and its alias `POST /v1/workflows/{name}`): start a
//! registered workflow, optionally wait for its result.

use std::time::Duration;

use axum::{
    Extension,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::Response,
};
use flowgate_config::Action;
use flowgate_workflows::{
    callbacks::Callback,
    duration::{self, SecondsOrDuration},
    registry::{PROGRESS_MEMO_KEY, WorkflowDef},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use temporalio_client::WorkflowExecutionStatus;
use temporalio_common::protos::temporal::api::enums::v1::{
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};
use utoipa::ToSchema;

use super::{
    IDEMPOTENT_REPLAYED,
    body::{RegisteredWorkflow, field_errors},
    idempotency::{self, Idempotency, MEMO_KEY, check_keyed_policies, start_once},
    messages,
    wait::WaitPreference,
    workflow_location,
};
use crate::{
    auth::Principal,
    error::{ApiError, FieldError, Problem},
    extract::{ApiJson, check_chosen_workflow_id, check_workflow_id},
    gateway::{Outcome, StartSpec, WithStart},
    routes::run::{RunOut, UpdateOut},
    state::AppState,
};

/// What to start: the workflow's input and Temporal's start options.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartIn {
    /// The workflow's input (its schema is the workflow's; see each start path).
    pub input: Value,
    /// Your own workflow id. Without one: `<prefix><uuid>`, or with an `Idempotency-Key` an id
    /// derived from the key.
    #[serde(default)]
    #[schema(example = "order-42")]
    pub workflow_id: Option<String>,
    /// Memo: any JSON values, shown by `GET /v1/workflows/{workflow_id}`.
    #[serde(default)]
    pub memo: Option<Map<String, Value>>,
    /// Search attributes (strings, numbers, booleans, lists of strings), each registered in the
    /// namespace beforehand; an unknown one is a 422.
    #[serde(default)]
    pub search_attributes: Option<Map<String, Value>>,
    /// Delay before the workflow runs: a number of seconds (`30`, `2.5`) or a duration
    /// (`"1m30s"`).
    #[serde(default, deserialize_with = "duration::seconds_or_text")]
    #[schema(value_type = Option<SecondsOrDuration>, example = "10s")]
    pub start_delay: Option<String>,
    /// Whether a closed workflow's id may be used again (default `allow_duplicate`).
    #[serde(default)]
    pub id_reuse_policy: Option<IdReusePolicy>,
    /// What to do when a workflow with the id is running (default `fail`: 409; with a `signal`
    /// or an `update`, `use_existing`).
    #[serde(default)]
    pub id_conflict_policy: Option<IdConflictPolicy>,
    /// Signal-with-start: this signal reaches the run the start creates, or the one running
    /// under `workflow_id`, in one atomic step.
    #[serde(default)]
    pub signal: Option<MessageIn>,
    /// Update-with-start: this update runs on the run the start creates, or on the one running
    /// under `workflow_id`, in one atomic step; the answer carries its result (`update`), waited
    /// for up to `?wait` (default and at most `api.result_wait`).
    #[serde(default)]
    pub update: Option<MessageIn>,
    /// URLs to notify when the workflow closes (at most 5): a signed JSON POST, the
    /// `WebhookNotification` schema (see the start's description).
    #[serde(default)]
    pub callbacks: Option<Vec<Callback>>,
}

/// A signal or update sent with a start.
#[derive(Debug, Clone, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageIn {
    /// Its name, as the workflow declares it.
    #[schema(example = "add_item")]
    pub name: String,
    /// Its argument (leave it out for a message that takes none).
    #[serde(default)]
    pub input: Option<Value>,
    /// Updates only: the update's id (default: a random one). An update id runs once per run,
    /// so a retry with the same id does not apply the update twice.
    #[serde(default)]
    pub update_id: Option<String>,
}

/// Temporal's workflow id reuse policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IdReusePolicy {
    /// A closed workflow's id may start a new run.
    AllowDuplicate,
    /// Only if the closed run did not complete successfully.
    AllowDuplicateFailedOnly,
    /// Never: an id is used once.
    RejectDuplicate,
}

/// Temporal's workflow id conflict policy (a run with the id is running).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IdConflictPolicy {
    /// Refuse: 409.
    Fail,
    /// Return the running run (`replayed: true`).
    UseExisting,
    /// Terminate it and start a new run.
    TerminateExisting,
}

impl StartIn {
    /// The start this body asks for, and, when `keyed` (an `Idempotency-Key` came with it), its
    /// normalised content, which the key's record holds; every problem is reported at once,
    /// pointers relative to the body (the input's under `input_at`).
    fn plan(
        self,
        def: &WorkflowDef,
        state: &AppState,
        input_at: &str,
        mut errors: Vec<FieldError>,
        keyed: bool,
    ) -> Result<(StartSpec, Option<Value>), ApiError> {
        let input = def
            .input
            .decode(&self.input, &state.limits)
            .unwrap_or_else(|issues| {
                if let ApiError::Validation(found) = field_errors(input_at, issues) {
                    errors.extend(found);
                }
                Value::Null
            });
        if let Some(Err(problem)) = self.workflow_id.as_deref().map(check_chosen_workflow_id) {
            errors.push(FieldError::new("/workflow_id", problem));
        }
        let with = self.with_start(def, state, &mut errors);
        let memo = self.memo.unwrap_or_default();
        if memo.contains_key(MEMO_KEY) {
            errors.push(FieldError::new(
                format!("/memo/{MEMO_KEY}"),
                "is reserved for Flowgate",
            ));
        }
        if def.progress.is_some() && memo.contains_key(PROGRESS_MEMO_KEY) {
            errors.push(FieldError::new(
                format!("/memo/{PROGRESS_MEMO_KEY}"),
                "is where the workflow reports its progress",
            ));
        }
        let search_attributes = self.search_attributes.unwrap_or_default();
        for (name, value) in &search_attributes {
            if !is_search_attribute_value(value) {
                errors.push(FieldError::new(
                    format!(
                        "/search_attributes/{}",
                        name.replace('~', "~0").replace('/', "~1")
                    ),
                    "must be a string, number, boolean or list of strings",
                ));
            }
        }
        let start_delay = match self.start_delay.as_deref().map(parse_delay) {
            Some(None) => {
                errors.push(FieldError::new(
                    "/start_delay",
                    "must be seconds (30) or a duration (1m30s), at most 366 days",
                ));
                None
            }
            other => other.flatten().filter(|d| !d.is_zero()),
        };
        if start_delay.is_some() && self.update.is_some() {
            errors.push(FieldError::new(
                "/start_delay",
                "cannot be combined with an update, which runs at once",
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let normalised = keyed.then(|| {
            let mut normalised = json!({
                "workflow": def.name,
                "input": input,
                "workflow_id": self.workflow_id,
                "memo": memo,
                "search_attributes": search_attributes,
                "start_delay_ms": start_delay.map(|d: Duration| d.as_millis() as u64),
                "id_reuse_policy": self.id_reuse_policy,
                "id_conflict_policy": self.id_conflict_policy,
                "signal": self.signal,
                "update": self.update,
            });
            // Only when named, so the keys of starts without callbacks keep their records.
            if let Some(callbacks) = self.callbacks.as_ref().filter(|c| !c.is_empty()) {
                normalised["callbacks"] = json!(callbacks);
            }
            normalised
        });
        let spec = StartSpec {
            workflow_type: def.temporal_type.to_owned(),
            task_queue: def.queue(&state.settings.worker.task_queue).to_owned(),
            workflow_id: self
                .workflow_id
                .unwrap_or_else(|| format!("{}{}", def.id_prefix, uuid::Uuid::new_v4())),
            input,
            memo,
            search_attributes,
            start_delay,
            id_reuse_policy: match self.id_reuse_policy {
                Some(IdReusePolicy::AllowDuplicateFailedOnly) => {
                    WorkflowIdReusePolicy::AllowDuplicateFailedOnly
                }
                Some(IdReusePolicy::RejectDuplicate) => WorkflowIdReusePolicy::RejectDuplicate,
                Some(IdReusePolicy::AllowDuplicate) | None => WorkflowIdReusePolicy::AllowDuplicate,
            },
            id_conflict_policy: match self.id_conflict_policy {
                Some(IdConflictPolicy::UseExisting) => WorkflowIdConflictPolicy::UseExisting,
                Some(IdConflictPolicy::TerminateExisting) => {
                    WorkflowIdConflictPolicy::TerminateExisting
                }
                Some(IdConflictPolicy::Fail) => WorkflowIdConflictPolicy::Fail,
                None if with.is_some() => WorkflowIdConflictPolicy::UseExisting,
                None => WorkflowIdConflictPolicy::Fail,
            },
            request_id: None,
            with,
        };
        Ok((spec, normalised))
    }
}

impl StartIn {
    /// The message sent with the start, checked against what `def` declares; problems go to
    /// `errors`, pointers under `/signal` or `/update`.
    fn with_start(
        &self,
        def: &WorkflowDef,
        state: &AppState,
        errors: &mut Vec<FieldError>,
    ) -> Option<WithStart> {
        let (kind, at, message, declared) = match (&self.signal, &self.update) {
            (None, None) => return None,
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(
                    "/update",
                    "cannot be sent with a signal: send one message with a start",
                ));
                return None;
            }
            (Some(signal), None) => ("signal", "/signal", signal, &def.signals),
            (None, Some(update)) => ("update", "/update", update, &def.updates),
        };
        if kind == "signal" && self.id_conflict_policy == Some(IdConflictPolicy::Fail) {
            errors.push(FieldError::new(
                "/id_conflict_policy",
                "a signal-with-start signals the running workflow: use_existing (the default) or terminate_existing",
            ));
        }
        if kind == "signal" && message.update_id.is_some() {
            errors.push(FieldError::new("/signal/update_id", "is for updates only"));
        }
        let Some(found) = declared.iter().find(|m| m.name == message.name) else {
            let known: Vec<&str> = declared.iter().map(|m| m.name).collect();
            errors.push(FieldError::new(
                format!("{at}/name"),
                format!(
                    "{} has no {kind} {:?} (it has: {})",
                    def.temporal_type,
                    message.name,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
            return None;
        };
        let input = match messages::message_argument(
            kind,
            found,
            message.input.clone(),
            &state.limits,
            &format!("{at}/input"),
        ) {
            Ok(input) => input,
            Err(ApiError::Validation(found)) => {
                errors.extend(found);
                return None;
            }
            Err(_) => return None,
        };
        if let Some(Err(problem)) = message.update_id.as_deref().map(check_workflow_id) {
            errors.push(FieldError::new(
                "/update/update_id",
                problem.replace("workflow id", "update id"),
            ));
        }
        Some(if kind == "signal" {
            WithStart::Signal {
                name: found.name.to_owned(),
                input,
            }
        } else {
            WithStart::Update {
                name: found.name.to_owned(),
                input,
                update_id: message
                    .update_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                // Set by the route, from its wait.
                wait: Duration::ZERO,
            }
        })
    }
}

/// Longest start delay accepted (Temporal has no limit; a longer one is most likely a mistake).
const MAX_START_DELAY: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// `30`, `2.5` (seconds) or `1m30s`, up to [`MAX_START_DELAY`].
fn parse_delay(raw: &str) -> Option<Duration> {
    duration::parse(raw).filter(|delay| *delay <= MAX_START_DELAY)
}

fn is_search_attribute_value(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        Value::Null | Value::Object(_) => false,
    }
}

/// Start the workflow named in the path (the generic form of each workflow's start path).
///
/// **Callbacks.** `callbacks` names URLs notified when the workflow closes: a signed
/// `WebhookNotification` POST (Standard Webhooks), retried until a 2xx; see each workflow's start
/// path and `GET /v1/workflows/{workflow_id}/callbacks`.
#[utoipa::path(post, path = "/v1/workflow-types/{name}/start", tag = "v1",
    params(
        ("wait" = Option<String>, Query, pattern = r"^([0-9]{1,9}(\.[0-9]{1,9})?|([0-9]{1,9}(ns|us|ms|s|m|h))+)$", description = "Wait up to this long for the result: seconds (`10`) or a duration (`500ms`, `1m`); capped at api.result_wait. Without it (and without `Prefer: wait`), answers at once."),
        ("Prefer" = Option<String>, Header, description = "RFC 7240 `wait=<seconds>`, used when `?wait` is absent; answered with `Preference-Applied`."),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", description = "Makes the start idempotent: a retry with the same key and body returns the same run (`replayed: true`, `Idempotent-Replayed: true`), never a second one, also after it ended; the same key with another body is a 422."),
    ),
    request_body = StartIn,
    responses(
        (status = 200, description = "The workflow ended within the wait: completed with its result, or failed/canceled/terminated/timed_out with an error; with an `update`, the update completed (its result in `update`)", body = RunOut),
        (status = 202, description = "Started (or replayed) and not ended yet", body = RunOut,
            headers(("Location" = String, description = "Where to get the result: /v1/workflows/{workflow_id}/result"),
                    ("Idempotent-Replayed" = String, description = "With an Idempotency-Key: `true` when an earlier request's run was returned"),
                    ("Preference-Applied" = String, description = "The wait applied, when asked with Prefer"))),
        (status = 400, description = "Malformed JSON, or a bad Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No workflow registered under this name", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A workflow with this id exists and the policies refuse another", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid input or options (pointers under `/input` for the input), or an Idempotency-Key reused with another body; with an `update`, the workflow rejected it (`update-rejected`; the workflow runs all the same)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "With an `update`: it did not complete within the wait (`update-timed-out`, naming where its result will be; the workflow runs)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start_workflow(
    State(state): State<AppState>,
    RegisteredWorkflow(def): RegisteredWorkflow,
    principal: Option<Extension<Principal>>,
    wait: WaitPreference,
    headers: HeaderMap,
    ApiJson(body): ApiJson<StartIn>,
) -> Result<Response, ApiError> {
    let principal = principal.map(|Extension(p)| p);
    let request = StartRequest {
        def,
        principal: principal.as_ref(),
        key: idempotency::key(&headers)?,
        body,
        input_at: "/input",
        wait: wait.or_none(),
    };
    // Boxed: the start's state machine is large, and a handler's future lives on the stack.
    let started = Box::pin(start(&state, request)).await?;
    let location = workflow_location(&started.workflow_id, "/result");
    let (mut code, mut out) = RunOut::from_outcome(started.workflow_id, started.outcome);
    if let Some((update_id, result)) = started.update {
        match result {
            Ok(result) => {
                out.update = Some(UpdateOut { update_id, result });
                code = StatusCode::OK;
            }
            // The workflow runs all the same: say which.
            Err(ApiError::UpdateRejected(message)) => {
                return Err(ApiError::UpdateRejected(format!(
                    "{message} (the workflow {:?} runs, run {})",
                    out.workflow_id, started.run_id
                )));
            }
            Err(error) => return Err(error),
        }
    }
    out.run_id = Some(started.run_id);
    out.replayed = Some(started.replayed);
    let mut extra = wait.headers();
    extra.extend(started.replayed_header);
    Ok(out.into_response_at(code, location, extra))
}

pub(crate) use super::idempotency::key as idempotency_key;

/// A start, as any start route asks for it.
pub(crate) struct StartRequest<'a> {
    /// The workflow to start.
    pub def: &'static WorkflowDef,
    /// Who asks (`None` with authentication off).
    pub principal: Option<&'a Principal>,
    /// The request's `Idempotency-Key`.
    pub key: Option<String>,
    /// What to start.
    pub body: StartIn,
    /// Where the input sits in the route's body, for error pointers (`/input`, or `""` where
    /// the body is the input).
    pub input_at: &'static str,
    /// How long to wait for the result; zero answers at once.
    pub wait: Duration,
}

/// What a start did.
pub(crate) struct Started {
    /// The workflow id.
    pub workflow_id: String,
    /// The run created or returned.
    pub run_id: String,
    /// Whether an earlier request's run was returned instead of a new one.
    pub replayed: bool,
    /// `Idempotent-Replayed`, when the request had a key.
    pub replayed_header: Option<(HeaderName, HeaderValue)>,
    /// How the run stands after the wait.
    pub outcome: Outcome,
    /// Update-with-start: the update's id and result, or why there is none.
    pub update: Option<(String, Result<Value, ApiError>)>,
}

/// The one start every route makes: checks the body against the workflow's input type and
/// limits, applies the `Idempotency-Key` (one key, one run) or the chosen id's policies with the
/// permissions they need, starts, then waits for the result as long as asked. A run that
/// started is never reported as not started: losing sight of Temporal afterwards reads as
/// running.
pub(crate) async fn start(
    state: &AppState,
    request: StartRequest<'_>,
) -> Result<Started, ApiError> {
    let StartRequest {
        def,
        principal,
        key,
        body,
        input_at,
        wait,
    } = request;
    let chosen_id = body.workflow_id.is_some();
    let with_message = if body.signal.is_some() {
        Some("/signal")
    } else if body.update.is_some() {
        Some("/update")
    } else {
        None
    };
    if let Some(at) = with_message {
        if key.is_some() {
            return Err(ApiError::Validation(vec![FieldError::new(
                at,
                "cannot be combined with an Idempotency-Key: a signal- or update-with-start is \
                 made idempotent by its workflow_id (and an update by its update_id)",
            )]));
        }
        if let Some(principal) = principal
            && !principal.may_act_on(Action::Message, def)
        {
            return Err(principal.forbidden(
                Action::Message,
                &format!(
                    "workflows of type {:?} (a start with a message sends it)",
                    def.name
                ),
            ));
        }
    }
    if key.is_some() {
        check_keyed_policies(&body)?;
    }
    let callbacks = body.callbacks.clone().filter(|c| !c.is_empty());
    let callback_errors = match &callbacks {
        Some(list) => super::callbacks::check(&state.settings.webhooks, list).await,
        None => Vec::new(),
    };
    let (mut spec, normalised) = body.plan(def, state, input_at, callback_errors, key.is_some())?;
    // An update-with-start waits for the update (as an update does), not for the workflow.
    let wait = match &mut spec.with {
        Some(WithStart::Update {
            wait: update_wait, ..
        }) => {
            *update_wait = if wait.is_zero() {
                state.settings.api.result_wait
            } else {
                wait
            };
            Duration::ZERO
        }
        _ => wait,
    };
    let scope = idempotency::scope(principal, def.name);
    let idempotency = key
        .zip(normalised)
        .map(|(key, normalised)| Idempotency::new(&scope, &key, &normalised));
    let (run_id, replayed, update) = match &idempotency {
        None if chosen_id => Box::pin(start_chosen_id(state, def, principal, &mut spec)).await?,
        None => {
            let run = Box::pin(state.gateway.start_execution(&spec)).await?;
            (run.run_id, !run.started, run.update)
        }
        Some(idempotency) => {
            spec.workflow_id = format!("{}{}", def.id_prefix, idempotency.derived_id("workflow"));
            spec.request_id = Some(idempotency.derived_id("start-request"));
            spec.memo.insert(MEMO_KEY.to_owned(), idempotency.record());
            spec.id_conflict_policy = WorkflowIdConflictPolicy::UseExisting;
            spec.id_reuse_policy = WorkflowIdReusePolicy::RejectDuplicate;
            let (run_id, replayed) = Box::pin(start_once(state, &spec, idempotency)).await?;
            (run_id, replayed, None)
        }
    };
    let update = match (&spec.with, update) {
        (Some(WithStart::Update { update_id, .. }), Some(result)) => {
            Some((update_id.clone(), result))
        }
        _ => None,
    };
    // On the request span: its one log line, written when the answer is, names the run.
    let span = tracing::Span::current();
    span.record("workflow", def.name);
    span.record("workflow_id", spec.workflow_id.as_str());
    span.record("run_id", run_id.as_str());
    span.record("replayed", replayed);
    let workflow_id = spec.workflow_id;
    if let Some(callbacks) = &callbacks {
        let webhooks = &state.settings.webhooks;
        let queue = &state.settings.worker.task_queue;
        (state.gateway)
            .register_callbacks(&workflow_id, &run_id, callbacks, webhooks, queue)
            .await?;
    }
    let outcome = if wait.is_zero() && !replayed {
        Outcome::Running
    } else {
        match Box::pin(
            state
                .gateway
                .outcome(&workflow_id, Some(&run_id), wait, true),
        )
        .await
        {
            Ok((_, outcome)) => outcome,
            // Started; losing sight of it now must not read as "not started", or a retrying
            // client would start it twice.
            Err(ApiError::TemporalUnavailable(error)) => {
                tracing::warn!(%workflow_id, reason = %error.reason, "started, but cannot wait for the result");
                Outcome::Running
            }
            Err(other) => return Err(other),
        }
    };
    let replayed_header = idempotency.is_some().then(|| {
        (
            IDEMPOTENT_REPLAYED,
            HeaderValue::from_static(if replayed { "true" } else { "false" }),
        )
    });
    Ok(Started {
        workflow_id,
        run_id,
        replayed,
        replayed_header,
        outcome,
        update,
    })
}

/// Starts `spec`, whose workflow id the client chose. Workflow ids are shared by every workflow
/// type (they are Temporal's): an id held by a run of another type — running or closed — is
/// refused as taken, whatever the policies say, and nothing of that run is revealed. Within the
/// type, the policies act on another client's run only with the permission that act needs:
/// `use_existing` answers with the running run (its status and result), so it needs `read`;
/// `terminate_existing` needs `control`; a new run on an id whose run has closed replaces what
/// its readers see, so it needs `control` too. Those asked for are checked before anything is
/// looked up, so a refusal says nothing of the id.
async fn start_chosen_id(
    state: &AppState,
    def: &WorkflowDef,
    principal: Option<&Principal>,
    spec: &mut StartSpec,
) -> Result<(String, bool, Option<Result<Value, ApiError>>), ApiError> {
    let needs = |action: Action, why: &str| match principal {
        Some(principal) if !principal.may_act_on(action, def) => {
            Err(principal.forbidden(action, &format!("workflows of type {:?} ({why})", def.name)))
        }
        _ => Ok(()),
    };
    match spec.id_conflict_policy {
        WorkflowIdConflictPolicy::UseExisting => needs(
            Action::Read,
            "id_conflict_policy use_existing answers with the running run",
        )?,
        WorkflowIdConflictPolicy::TerminateExisting => needs(
            Action::Control,
            "id_conflict_policy terminate_existing terminates the running run",
        )?,
        _ => {}
    }
    let taken = || ApiError::WorkflowAlreadyExists(spec.workflow_id.clone());
    let existing = match state.gateway.describe_execution(&spec.workflow_id).await {
        Ok(execution) => Some(execution),
        Err(ApiError::WorkflowNotFound(_)) => None,
        Err(other) => return Err(other),
    };
    let terminate = spec.id_conflict_policy == WorkflowIdConflictPolicy::TerminateExisting;
    // Temporal applies the policies to whatever holds the id when the start arrives; only the
    // run checked here may be acted on, so anything else that appears meanwhile is a conflict.
    if terminate {
        spec.id_conflict_policy = WorkflowIdConflictPolicy::Fail;
    }
    match &existing {
        Some(existing) if existing.workflow_type != def.temporal_type => return Err(taken()),
        Some(existing) if existing.status == WorkflowExecutionStatus::Running => {
            if terminate {
                state
                    .gateway
                    .terminate(
                        &spec.workflow_id,
                        Some(&existing.run_id),
                        "replaced by a start with id_conflict_policy terminate_existing".to_owned(),
                    )
                    .await?;
            }
        }
        Some(_closed) => {
            if spec.id_reuse_policy == WorkflowIdReusePolicy::RejectDuplicate {
                return Err(taken());
            }
            needs(
                Action::Control,
                "a new run on the id of a closed one replaces what its readers see",
            )?;
        }
        None if spec.with.is_some()
            && spec.id_conflict_policy == WorkflowIdConflictPolicy::UseExisting =>
        {
            // No run ever had the id. Concurrent starts with a message for it share the one run
            // that the first creates (each message reaches it); a run of another type that
            // appears meanwhile is refused below, though its message has then reached it.
            spec.id_reuse_policy = WorkflowIdReusePolicy::RejectDuplicate;
        }
        None => {
            // No run ever had the id: if one appears before this start arrives, it is a conflict.
            spec.id_reuse_policy = WorkflowIdReusePolicy::RejectDuplicate;
            spec.id_conflict_policy = WorkflowIdConflictPolicy::Fail;
        }
    }
    let run = Box::pin(state.gateway.start_execution(spec)).await?;
    if !run.started && existing.as_ref().map(|e| &e.run_id) != Some(&run.run_id) {
        // `use_existing` returned a run that started after the check: it must be of this type.
        let now = state.gateway.describe_execution(&spec.workflow_id).await?;
        if now.workflow_type != def.temporal_type {
            return Err(taken());
        }
    }
    Ok((run.run_id, !run.started, run.update))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_delays_are_seconds_or_durations_within_a_year() {
        assert_eq!(parse_delay("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_delay("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_delay("366days"), Some(MAX_START_DELAY));
        assert_eq!(parse_delay("367days"), None);
        assert_eq!(parse_delay("1e300"), None);
        assert_eq!(parse_delay("-1"), None);
        assert_eq!(parse_delay("later"), None);
    }
}
