//! A workflow's history as the API reports it (`EventOut`, `HistoryOut`): typed events, with an
//! [`EventKind::Other`] for types this client does not know, so a newer API never breaks a
//! stream.

use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{Error, ErrorInfo, EventKind};

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
