//! What happened in a workflow run, by event `type`: one variant per type the API sends, and
//! [`EventKind::Other`] for the rest.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ErrorInfo;

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
    pub(crate) fn from_fields(mut fields: Map<String, Value>) -> Self {
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
