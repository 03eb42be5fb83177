//! A workflow's history as the API reports it (`EventOut`, `HistoryOut`): typed events, with an
//! [`EventKind::Other`] for types this client does not know, so a newer API never breaks a
//! stream.

use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{Error, ErrorInfo};

/// One event of a workflow run's history (`EventOut`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawEvent")]
pub struct WorkflowEvent {
    /// The history event id: increasing within a run.
    pub event_id: i64,
    /// The run it belongs to.
    pub run_id: String,
    /// When Temporal recorded it (RFC 3339, UTC).
    pub time: Option<String>,
    /// What happened, with its fields.
    pub kind: EventKind,
}

/// What happened, by the event's `type`. Payloads (inputs, results, progress) are their JSON
/// values; [`WorkflowEvent::result_as`] and [`WorkflowEvent::progress_as`] read them as types.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The run started.
    WorkflowStarted {
        /// Temporal workflow type.
        workflow_type: String,
        /// Task queue.
        task_queue: String,
        /// Its input.
        #[serde(default)]
        input: Value,
        /// The run it continues, after a continue-as-new.
        #[serde(default)]
        continued_from_run_id: Option<String>,
    },
    /// The workflow reported its progress (the shopping workflows: `OrderProgress`).
    Progress {
        /// The progress, as the workflow reported it.
        #[serde(default)]
        progress: Value,
    },
    /// An activity was scheduled.
    ActivityScheduled {
        /// Activity id.
        activity_id: String,
        /// Activity type.
        activity_type: String,
        /// Its input.
        #[serde(default)]
        input: Value,
    },
    /// An attempt of a scheduled activity started on a worker.
    ActivityStarted {
        /// The `activity_scheduled` event.
        scheduled_event_id: i64,
        /// Activity type.
        activity_type: String,
        /// Attempt, from 1.
        attempt: i32,
    },
    /// An activity completed.
    ActivityCompleted {
        /// The `activity_scheduled` event.
        scheduled_event_id: i64,
        /// Activity type.
        activity_type: String,
        /// Its result.
        #[serde(default)]
        result: Value,
    },
    /// An activity failed (its retries, if any, are spent).
    ActivityFailed {
        /// The `activity_scheduled` event.
        scheduled_event_id: i64,
        /// Activity type.
        activity_type: String,
        /// Why.
        error: ErrorInfo,
    },
    /// An activity timed out.
    ActivityTimedOut {
        /// The `activity_scheduled` event.
        scheduled_event_id: i64,
        /// Activity type.
        activity_type: String,
        /// Which timeout.
        error: ErrorInfo,
    },
    /// An activity was canceled.
    ActivityCanceled {
        /// The `activity_scheduled` event.
        scheduled_event_id: i64,
        /// Activity type.
        activity_type: String,
    },
    /// A signal arrived.
    SignalReceived {
        /// Signal name.
        name: String,
        /// Its argument.
        #[serde(default)]
        input: Value,
    },
    /// The workflow accepted an update.
    UpdateAccepted {
        /// Update id.
        update_id: String,
        /// Update name.
        name: String,
        /// Its argument.
        #[serde(default)]
        input: Value,
    },
    /// An accepted update finished.
    UpdateCompleted {
        /// Update id.
        update_id: String,
        /// Its result, when it succeeded.
        #[serde(default)]
        result: Option<Value>,
        /// Why it failed, when it did.
        #[serde(default)]
        error: Option<ErrorInfo>,
    },
    /// A timer started.
    TimerStarted {
        /// Timer id.
        timer_id: String,
        /// Seconds until it fires.
        seconds: f64,
    },
    /// A timer fired.
    TimerFired {
        /// Timer id.
        timer_id: String,
    },
    /// A timer was canceled.
    TimerCanceled {
        /// Timer id.
        timer_id: String,
    },
    /// A child workflow started.
    ChildWorkflowStarted {
        /// Its workflow id.
        workflow_id: String,
        /// Its run.
        child_run_id: String,
        /// Its type.
        workflow_type: String,
    },
    /// A child workflow completed.
    ChildWorkflowCompleted {
        /// Its workflow id.
        workflow_id: String,
        /// Its result.
        #[serde(default)]
        result: Value,
    },
    /// A child workflow failed.
    ChildWorkflowFailed {
        /// Its workflow id.
        workflow_id: String,
        /// Why.
        error: ErrorInfo,
    },
    /// A child workflow was canceled.
    ChildWorkflowCanceled {
        /// Its workflow id.
        workflow_id: String,
    },
    /// A child workflow was terminated.
    ChildWorkflowTerminated {
        /// Its workflow id.
        workflow_id: String,
    },
    /// A child workflow timed out.
    ChildWorkflowTimedOut {
        /// Its workflow id.
        workflow_id: String,
    },
    /// Cancellation of the run was requested.
    CancelRequested {
        /// The reason given, if any.
        #[serde(default)]
        reason: Option<String>,
    },
    /// The run completed (its last event).
    WorkflowCompleted {
        /// Its result.
        #[serde(default)]
        result: Value,
    },
    /// The run failed (its last event).
    WorkflowFailed {
        /// Why.
        error: ErrorInfo,
    },
    /// The run was canceled (its last event).
    WorkflowCanceled {},
    /// The run was terminated (its last event).
    WorkflowTerminated {
        /// The reason given, if any.
        #[serde(default)]
        reason: Option<String>,
    },
    /// The run timed out (its last event).
    WorkflowTimedOut {},
    /// The run continued as a new run of the workflow (the last event of this run).
    WorkflowContinuedAsNew {
        /// The new run.
        new_run_id: String,
    },
    /// An event this client cannot read as one of the above: a type added to the API after
    /// this client was built (or fields of a known type it does not expect).
    #[serde(skip)]
    Other {
        /// The event's `type`.
        event_type: String,
        /// Its fields but `event_id`, `run_id`, `time` and `type`.
        fields: Map<String, Value>,
    },
}

impl EventKind {
    /// The event's `type` (the SSE event name), e.g. `activity_completed`.
    pub fn name(&self) -> &str {
        match self {
            Self::WorkflowStarted { .. } => "workflow_started",
            Self::Progress { .. } => "progress",
            Self::ActivityScheduled { .. } => "activity_scheduled",
            Self::ActivityStarted { .. } => "activity_started",
            Self::ActivityCompleted { .. } => "activity_completed",
            Self::ActivityFailed { .. } => "activity_failed",
            Self::ActivityTimedOut { .. } => "activity_timed_out",
            Self::ActivityCanceled { .. } => "activity_canceled",
            Self::SignalReceived { .. } => "signal_received",
            Self::UpdateAccepted { .. } => "update_accepted",
            Self::UpdateCompleted { .. } => "update_completed",
            Self::TimerStarted { .. } => "timer_started",
            Self::TimerFired { .. } => "timer_fired",
            Self::TimerCanceled { .. } => "timer_canceled",
            Self::ChildWorkflowStarted { .. } => "child_workflow_started",
            Self::ChildWorkflowCompleted { .. } => "child_workflow_completed",
            Self::ChildWorkflowFailed { .. } => "child_workflow_failed",
            Self::ChildWorkflowCanceled { .. } => "child_workflow_canceled",
            Self::ChildWorkflowTerminated { .. } => "child_workflow_terminated",
            Self::ChildWorkflowTimedOut { .. } => "child_workflow_timed_out",
            Self::CancelRequested { .. } => "cancel_requested",
            Self::WorkflowCompleted { .. } => "workflow_completed",
            Self::WorkflowFailed { .. } => "workflow_failed",
            Self::WorkflowCanceled {} => "workflow_canceled",
            Self::WorkflowTerminated { .. } => "workflow_terminated",
            Self::WorkflowTimedOut {} => "workflow_timed_out",
            Self::WorkflowContinuedAsNew { .. } => "workflow_continued_as_new",
            Self::Other { event_type, .. } => event_type,
        }
    }

    /// An event's fields (with its `type`) as this kind; an event that does not read as a
    /// known kind is [`EventKind::Other`].
    fn from_fields(mut fields: Map<String, Value>) -> Self {
        if let Ok(kind) = Self::deserialize(&fields) {
            return kind;
        }
        let event_type = match fields.remove("type") {
            Some(Value::String(event_type)) => event_type,
            _ => String::new(),
        };
        Self::Other { event_type, fields }
    }
}

/// `EventOut` as sent: the common fields, and the rest by `type`.
#[derive(Deserialize)]
struct RawEvent {
    event_id: i64,
    run_id: String,
    #[serde(default)]
    time: Option<String>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

impl From<RawEvent> for WorkflowEvent {
    fn from(raw: RawEvent) -> Self {
        Self {
            event_id: raw.event_id,
            run_id: raw.run_id,
            time: raw.time,
            kind: EventKind::from_fields(raw.fields),
        }
    }
}

impl WorkflowEvent {
    /// The event's `type`, e.g. `activity_completed`.
    pub fn event_type(&self) -> &str {
        self.kind.name()
    }

    /// Whether this is its run's last event: the run completed, failed, was canceled,
    /// terminated, timed out or continued as new.
    pub fn closes_run(&self) -> bool {
        matches!(
            self.kind,
            EventKind::WorkflowCompleted { .. }
                | EventKind::WorkflowFailed { .. }
                | EventKind::WorkflowCanceled {}
                | EventKind::WorkflowTerminated { .. }
                | EventKind::WorkflowTimedOut {}
                | EventKind::WorkflowContinuedAsNew { .. }
        )
    }

    /// The result of a completed workflow, activity, child workflow or update.
    pub fn result(&self) -> Option<&Value> {
        match &self.kind {
            EventKind::WorkflowCompleted { result }
            | EventKind::ActivityCompleted { result, .. }
            | EventKind::ChildWorkflowCompleted { result, .. }
            | EventKind::UpdateCompleted {
                result: Some(result),
                ..
            } => Some(result),
            _ => None,
        }
    }

    /// [`WorkflowEvent::result`] as `T`, e.g. the shopping workflow's order lines as `String`.
    pub fn result_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        typed(self.result())
    }

    /// The report of a `progress` event.
    pub fn progress(&self) -> Option<&Value> {
        match &self.kind {
            EventKind::Progress { progress } => Some(progress),
            _ => None,
        }
    }

    /// [`WorkflowEvent::progress`] as `T`, e.g. the shopping workflows' `OrderProgress`.
    pub fn progress_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        typed(self.progress())
    }

    /// Why a workflow, activity, child workflow or update failed (or which timeout passed).
    pub fn error(&self) -> Option<&ErrorInfo> {
        match &self.kind {
            EventKind::WorkflowFailed { error }
            | EventKind::ActivityFailed { error, .. }
            | EventKind::ActivityTimedOut { error, .. }
            | EventKind::ChildWorkflowFailed { error, .. }
            | EventKind::UpdateCompleted {
                error: Some(error), ..
            } => Some(error),
            _ => None,
        }
    }

    /// The activity type of an activity's event.
    pub fn activity_type(&self) -> Option<&str> {
        match &self.kind {
            EventKind::ActivityScheduled { activity_type, .. }
            | EventKind::ActivityStarted { activity_type, .. }
            | EventKind::ActivityCompleted { activity_type, .. }
            | EventKind::ActivityFailed { activity_type, .. }
            | EventKind::ActivityTimedOut { activity_type, .. }
            | EventKind::ActivityCanceled { activity_type, .. } => Some(activity_type),
            _ => None,
        }
    }
}

fn typed<T: DeserializeOwned>(value: Option<&Value>) -> Result<Option<T>, Error> {
    value
        .map(T::deserialize)
        .transpose()
        .map_err(|source| Error::Decode {
            status: 200,
            source,
        })
}

/// A run's history so far (`HistoryOut`), from [`Client::history`](crate::Client::history).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct History {
    /// Workflow id.
    pub workflow_id: String,
    /// The run.
    pub run_id: String,
    /// Its events after `after` (all by default), at most 1000, in order.
    pub events: Vec<WorkflowEvent>,
    /// When more events follow: pass it as `after` for the next ones.
    #[serde(default)]
    pub next_after: Option<i64>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(value: Value) -> WorkflowEvent {
        serde_json::from_value(value).expect("an event")
    }

    #[test]
    fn known_events_are_typed_with_their_fields() {
        let done = event(
            json!({"event_id": 17, "run_id": "r", "time": "2026-01-01T00:00:00Z",
            "type": "workflow_completed", "result": "Ordered 5 Apples..."}),
        );
        let progress = event(json!({"event_id": 12, "run_id": "r", "time": null,
            "type": "progress", "progress": {"ordered": 1, "total": 2}}));
        let canceled = event(
            json!({"event_id": 9, "run_id": "r", "type": "workflow_canceled",
            "added_later": true}),
        );

        assert_eq!(done.event_id, 17);
        assert_eq!(done.event_type(), "workflow_completed");
        assert!(done.closes_run());
        assert_eq!(
            done.result_as::<String>().unwrap().as_deref(),
            Some("Ordered 5 Apples...")
        );
        assert_eq!(
            progress.progress(),
            Some(&json!({"ordered": 1, "total": 2}))
        );
        assert!(!progress.closes_run());
        assert_eq!(canceled.kind, EventKind::WorkflowCanceled {});
        assert!(canceled.closes_run());
    }

    #[test]
    fn an_unknown_type_is_kept_as_other_with_its_fields() {
        let new = event(json!({"event_id": 4, "run_id": "r", "time": null,
            "type": "nexus_operation_started", "operation": "x"}));
        let odd = event(json!({"event_id": 5, "run_id": "r", "time": null,
            "type": "timer_fired", "timer_id": 7}));

        assert_eq!(new.event_type(), "nexus_operation_started");
        let EventKind::Other { fields, .. } = &new.kind else {
            panic!("other: {new:?}");
        };
        assert_eq!(fields.get("operation"), Some(&json!("x")));
        assert_eq!(odd.event_type(), "timer_fired");
        assert!(matches!(odd.kind, EventKind::Other { .. }), "{odd:?}");
        assert!(!new.closes_run() && !odd.closes_run());
    }
}
