//! What a caller sends: `/v1` start options and message arguments.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use flowgate_workflows::callbacks::Callback;

use crate::Error;

/// Temporal's workflow id reuse policy: may a closed workflow's id start a new run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdReusePolicy {
    /// Any closed run's id may be used again (the default).
    AllowDuplicate,
    /// Only a failed, canceled, terminated or timed-out run's id may be used again.
    AllowDuplicateFailedOnly,
    /// An id is never used twice.
    RejectDuplicate,
}

/// Temporal's workflow id conflict policy: what to do when a run with the id is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdConflictPolicy {
    /// Refuse the start: a 409 `workflow-already-exists` (the default).
    Fail,
    /// Answer with the running run (`replayed: true`).
    UseExisting,
    /// Terminate the running run and start a new one.
    TerminateExisting,
}

/// Options of a `/v1` start; `StartOptions::default()` asks for none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartOptions {
    /// Your own workflow id (default: the workflow's prefix and a UUID, or one derived from the
    /// `idempotency_key`).
    pub workflow_id: Option<String>,
    /// Memo: any JSON values, shown by [`Client::describe`](crate::Client::describe).
    pub memo: Option<Map<String, Value>>,
    /// Search attributes, each registered in the namespace beforehand.
    pub search_attributes: Option<Map<String, Value>>,
    /// Delay before the workflow runs (sent in milliseconds; at most 366 days).
    pub start_delay: Option<Duration>,
    /// Whether a closed workflow's id may be used again.
    pub id_reuse_policy: Option<IdReusePolicy>,
    /// What to do when a workflow with the id is running.
    pub id_conflict_policy: Option<IdConflictPolicy>,
    /// Wait up to this long for the result (`?wait=`; the API caps it at its `api.result_wait`).
    /// `None` answers at once with 202.
    pub wait: Option<Duration>,
    /// `Idempotency-Key` header: a retry with the same key and body returns the same run.
    pub idempotency_key: Option<String>,
    /// Signal-with-start: this signal reaches the run started, or the one running under
    /// `workflow_id` (see [`Client::signal_with_start`](crate::Client::signal_with_start)).
    pub signal: Option<StartMessage>,
    /// Update-with-start: this update runs on the run started, or on the one running under
    /// `workflow_id` (see [`Client::update_with_start`](crate::Client::update_with_start)).
    pub update: Option<StartMessage>,
    /// URLs notified when the workflow closes (completion webhooks; check what they receive
    /// with [`verify_webhook`](crate::verify_webhook)).
    pub callbacks: Option<Vec<Callback>>,
}

/// A signal or update sent with a start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartMessage {
    /// The message's name, as the workflow declares it.
    pub name: String,
    /// Its argument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Updates only: the update's id (default: one the API makes). An update id runs once per
    /// run, so retrying with the same id is safe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_id: Option<String>,
}

impl StartMessage {
    /// Message `name` with `input` as its argument (`None` for a message that takes none).
    pub fn new<T: Serialize + ?Sized>(name: &str, input: Option<&T>) -> Result<Self, Error> {
        Ok(Self {
            name: name.to_owned(),
            input: input
                .map(serde_json::to_value)
                .transpose()
                .map_err(Error::Encode)?,
            update_id: None,
        })
    }
}

/// The body of a start (`StartIn`): the input and the options that go in the body.
#[derive(Serialize)]
pub(crate) struct StartBody<'a, I: Serialize + ?Sized> {
    pub(crate) input: &'a I,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) workflow_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) memo: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) search_attributes: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) start_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_reuse_policy: Option<IdReusePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_conflict_policy: Option<IdConflictPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) signal: Option<&'a StartMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) update: Option<&'a StartMessage>,
    pub(crate) callbacks: Option<&'a [Callback]>,
}

impl<'a, I: Serialize + ?Sized> StartBody<'a, I> {
    pub(crate) fn new(input: &'a I, options: &'a StartOptions) -> Self {
        Self {
            input,
            workflow_id: options.workflow_id.as_deref(),
            memo: options.memo.as_ref(),
            search_attributes: options.search_attributes.as_ref(),
            start_delay: options.start_delay.map(millis),
            id_reuse_policy: options.id_reuse_policy,
            id_conflict_policy: options.id_conflict_policy,
            signal: options.signal.as_ref(),
            update: options.update.as_ref(),
            callbacks: options.callbacks.as_deref(),
        }
    }
}

/// A duration as the API parses it: `1500ms`.
pub(crate) fn millis(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

/// The argument of a signal, query or update: the request body.
#[derive(Debug)]
pub struct Arg(Option<Result<Vec<u8>, serde_json::Error>>);

impl Arg {
    /// No argument: an empty body, for messages that take none (e.g. query `status`).
    pub fn none() -> Self {
        Self(None)
    }

    /// `value` as JSON, e.g. `Arg::json(&Approval { approver: "alice".into() })`.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        Self(Some(serde_json::to_vec(value)))
    }

    pub(crate) fn into_body(self) -> Result<Option<Vec<u8>>, Error> {
        self.0.transpose().map_err(Error::Encode)
    }
}

/// Where [`Client::events`](crate::Client::events) starts; `EventsOptions::default()` streams the
/// latest run from its first event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsOptions {
    /// One run of the workflow (default: its latest run when the stream opens).
    pub run_id: Option<String>,
    /// Only events after this event id of the run (`?after=`).
    pub after: Option<i64>,
    /// When the run continues as new, go on with the new run (`?follow=true`); otherwise the
    /// stream ends with `workflow_continued_as_new`.
    pub follow: bool,
}
