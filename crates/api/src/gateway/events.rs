//! A run's history events as a client reads them: typed, with JSON payloads decoded, and without
//! what only Temporal and its workers need (workflow tasks, markers, worker identities).

use std::collections::HashMap;

use chrono::DateTime;
use flowgate_workflows::registry::PROGRESS_MEMO_KEY;
use serde::Serialize;
use serde_json::Value;
use temporalio_common::protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowExecution},
    failure::v1::Failure,
    history::v1::{HistoryEvent, history_event::Attributes},
    update::v1::outcome,
};
use utoipa::ToSchema;

use super::{ErrorInfo, failure::error_info, payload::decode_payload};
use crate::routes::run::rfc3339;

/// One event of a workflow run's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct EventOut {
    /// The history event id: increasing within a run; the stream's `id:` (resume after it with
    /// `Last-Event-ID` or `?after=`).
    #[schema(example = 5)]
    pub event_id: i64,
    /// The run it belongs to.
    pub run_id: String,
    /// When Temporal recorded it (RFC 3339, UTC).
    pub time: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened, by `type`. Payloads (inputs, results, progress) are their JSON values.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum EventKind {
    /// The run started.
    WorkflowStarted {
        /// Temporal workflow type.
        workflow_type: String,
        /// Task queue.
        task_queue: String,
        /// Its input.
        input: Value,
        /// The run it continues, after a continue-as-new.
        #[serde(skip_serializing_if = "Option::is_none")]
        continued_from_run_id: Option<String>,
    },
    /// The workflow reported its progress (declared per workflow type: `OrderProgress` for the
    /// shopping workflows).
    Progress {
        /// The progress, as the workflow reported it.
        progress: Value,
    },
    /// An activity was scheduled.
    ActivityScheduled {
        /// Activity id.
        activity_id: String,
        /// Activity type.
        activity_type: String,
        /// Its input.
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
        input: Value,
    },
    /// The workflow accepted an update.
    UpdateAccepted {
        /// Update id.
        update_id: String,
        /// Update name.
        name: String,
        /// Its argument.
        input: Value,
    },
    /// An accepted update finished.
    UpdateCompleted {
        /// Update id.
        update_id: String,
        /// Its result, when it succeeded.
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        /// Why it failed, when it did.
        #[serde(skip_serializing_if = "Option::is_none")]
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
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The run completed (the last event).
    WorkflowCompleted {
        /// Its result.
        result: Value,
    },
    /// The run failed (the last event).
    WorkflowFailed {
        /// Why.
        error: ErrorInfo,
    },
    /// The run was canceled (the last event).
    WorkflowCanceled {},
    /// The run was terminated (the last event).
    WorkflowTerminated {
        /// The reason given, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The run timed out (the last event).
    WorkflowTimedOut {},
    /// The run continued as a new run of the workflow (the last event of this run).
    WorkflowContinuedAsNew {
        /// The new run.
        new_run_id: String,
    },
}

impl EventKind {
    /// The SSE event name: the `type`.
    pub(crate) fn name(&self) -> &'static str {
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
        }
    }
}

/// Types the events of one run, in order: remembers each scheduled activity's type, so later
/// events of the activity name it too.
#[derive(Debug, Default)]
pub(crate) struct EventTyper {
    activity_types: HashMap<i64, String>,
}

impl EventTyper {
    /// `event` as a client reads it, or `None` for events only Temporal's workers need.
    pub(crate) fn type_event(&mut self, run_id: &str, event: HistoryEvent) -> Option<EventOut> {
        let time = event
            .event_time
            .as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
            .map(rfc3339);
        let kind = self.kind(event.event_id, event.attributes?)?;
        Some(EventOut {
            event_id: event.event_id,
            run_id: run_id.to_owned(),
            time,
            kind,
        })
    }

    fn activity_type(&self, scheduled_event_id: i64) -> String {
        self.activity_types
            .get(&scheduled_event_id)
            .cloned()
            .unwrap_or_default()
    }

    fn kind(&mut self, event_id: i64, attributes: Attributes) -> Option<EventKind> {
        use Attributes as A;
        Some(match attributes {
            A::WorkflowExecutionStartedEventAttributes(a) => EventKind::WorkflowStarted {
                workflow_type: a.workflow_type.map(|t| t.name).unwrap_or_default(),
                task_queue: a.task_queue.map(|q| q.name).unwrap_or_default(),
                input: payloads(a.input.as_ref()),
                continued_from_run_id: Some(a.continued_execution_run_id).filter(|r| !r.is_empty()),
            },
            A::WorkflowPropertiesModifiedEventAttributes(a) => EventKind::Progress {
                progress: decode_payload(a.upserted_memo?.fields.get(PROGRESS_MEMO_KEY)?),
            },
            A::ActivityTaskScheduledEventAttributes(a) => {
                let activity_type = a.activity_type.map(|t| t.name).unwrap_or_default();
                self.activity_types.insert(event_id, activity_type.clone());
                EventKind::ActivityScheduled {
                    activity_id: a.activity_id,
                    activity_type,
                    input: payloads(a.input.as_ref()),
                }
            }
            A::ActivityTaskStartedEventAttributes(a) => EventKind::ActivityStarted {
                activity_type: self.activity_type(a.scheduled_event_id),
                scheduled_event_id: a.scheduled_event_id,
                attempt: a.attempt,
            },
            A::ActivityTaskCompletedEventAttributes(a) => EventKind::ActivityCompleted {
                activity_type: self.activity_type(a.scheduled_event_id),
                scheduled_event_id: a.scheduled_event_id,
                result: payloads(a.result.as_ref()),
            },
            A::ActivityTaskFailedEventAttributes(a) => EventKind::ActivityFailed {
                activity_type: self.activity_type(a.scheduled_event_id),
                scheduled_event_id: a.scheduled_event_id,
                error: error(a.failure.as_ref()),
            },
            A::ActivityTaskTimedOutEventAttributes(a) => EventKind::ActivityTimedOut {
                activity_type: self.activity_type(a.scheduled_event_id),
                scheduled_event_id: a.scheduled_event_id,
                error: error(a.failure.as_ref()),
            },
            A::ActivityTaskCanceledEventAttributes(a) => EventKind::ActivityCanceled {
                activity_type: self.activity_type(a.scheduled_event_id),
                scheduled_event_id: a.scheduled_event_id,
            },
            A::WorkflowExecutionSignaledEventAttributes(a) => EventKind::SignalReceived {
                name: a.signal_name,
                input: payloads(a.input.as_ref()),
            },
            A::WorkflowExecutionUpdateAcceptedEventAttributes(a) => {
                let request = a.accepted_request.unwrap_or_default();
                let input = request.input.unwrap_or_default();
                EventKind::UpdateAccepted {
                    update_id: request.meta.map(|m| m.update_id).unwrap_or_default(),
                    name: input.name,
                    input: payloads(input.args.as_ref()),
                }
            }
            A::WorkflowExecutionUpdateCompletedEventAttributes(a) => {
                let (result, error) = match a.outcome.and_then(|o| o.value) {
                    Some(outcome::Value::Success(values)) => (Some(payloads(Some(&values))), None),
                    Some(outcome::Value::Failure(failure)) => (None, Some(error_info(&failure))),
                    None => (Some(Value::Null), None),
                };
                EventKind::UpdateCompleted {
                    update_id: a.meta.map(|m| m.update_id).unwrap_or_default(),
                    result,
                    error,
                }
            }
            A::TimerStartedEventAttributes(a) => EventKind::TimerStarted {
                timer_id: a.timer_id,
                seconds: a
                    .start_to_fire_timeout
                    .map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9),
            },
            A::TimerFiredEventAttributes(a) => EventKind::TimerFired {
                timer_id: a.timer_id,
            },
            A::TimerCanceledEventAttributes(a) => EventKind::TimerCanceled {
                timer_id: a.timer_id,
            },
            A::ChildWorkflowExecutionStartedEventAttributes(a) => {
                let execution = a.workflow_execution.unwrap_or_default();
                EventKind::ChildWorkflowStarted {
                    workflow_id: execution.workflow_id,
                    child_run_id: execution.run_id,
                    workflow_type: a.workflow_type.map(|t| t.name).unwrap_or_default(),
                }
            }
            A::ChildWorkflowExecutionCompletedEventAttributes(a) => {
                EventKind::ChildWorkflowCompleted {
                    workflow_id: child_id(a.workflow_execution),
                    result: payloads(a.result.as_ref()),
                }
            }
            A::ChildWorkflowExecutionFailedEventAttributes(a) => EventKind::ChildWorkflowFailed {
                workflow_id: child_id(a.workflow_execution),
                error: error(a.failure.as_ref()),
            },
            A::ChildWorkflowExecutionCanceledEventAttributes(a) => {
                EventKind::ChildWorkflowCanceled {
                    workflow_id: child_id(a.workflow_execution),
                }
            }
            A::ChildWorkflowExecutionTerminatedEventAttributes(a) => {
                EventKind::ChildWorkflowTerminated {
                    workflow_id: child_id(a.workflow_execution),
                }
            }
            A::ChildWorkflowExecutionTimedOutEventAttributes(a) => {
                EventKind::ChildWorkflowTimedOut {
                    workflow_id: child_id(a.workflow_execution),
                }
            }
            A::WorkflowExecutionCancelRequestedEventAttributes(a) => EventKind::CancelRequested {
                reason: Some(a.cause).filter(|c| !c.trim().is_empty()),
            },
            A::WorkflowExecutionCompletedEventAttributes(a) => EventKind::WorkflowCompleted {
                result: payloads(a.result.as_ref()),
            },
            A::WorkflowExecutionFailedEventAttributes(a) => EventKind::WorkflowFailed {
                error: error(a.failure.as_ref()),
            },
            A::WorkflowExecutionCanceledEventAttributes(_) => EventKind::WorkflowCanceled {},
            A::WorkflowExecutionTerminatedEventAttributes(a) => EventKind::WorkflowTerminated {
                reason: Some(a.reason).filter(|r| !r.trim().is_empty()),
            },
            A::WorkflowExecutionTimedOutEventAttributes(_) => EventKind::WorkflowTimedOut {},
            A::WorkflowExecutionContinuedAsNewEventAttributes(a) => {
                EventKind::WorkflowContinuedAsNew {
                    new_run_id: a.new_execution_run_id,
                }
            }
            _ => return None,
        })
    }
}

/// Arguments or results as JSON: none is `null`, one is its value, several an array.
fn payloads(payloads: Option<&Payloads>) -> Value {
    let values: Vec<&Payload> = payloads
        .map(|p| p.payloads.iter().collect())
        .unwrap_or_default();
    match values.as_slice() {
        [] => Value::Null,
        [one] => decode_payload(one),
        many => Value::Array(many.iter().map(|p| decode_payload(p)).collect()),
    }
}

fn error(failure: Option<&Failure>) -> ErrorInfo {
    failure.map_or_else(
        || ErrorInfo {
            error_type: "Unknown".to_owned(),
            message: String::new(),
        },
        error_info,
    )
}

fn child_id(execution: Option<WorkflowExecution>) -> String {
    execution.map(|e| e.workflow_id).unwrap_or_default()
}
