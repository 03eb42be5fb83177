//! Completion webhooks: what a start's `callbacks` name, what the delivery workflow is given and
//! reports, and the notification it sends.
//!
//! The delivery workflow ([`DELIVERY_WORKFLOW_TYPE`]) is Flowgate's own: the API starts one per
//! run that names callbacks, with the id [`delivery_workflow_id`], on the worker's queue. It is
//! not in the [registry](crate::registry): no `/v1` route starts, reads or lists it. Its
//! implementation lives in the worker.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Temporal type of the delivery workflow.
pub const DELIVERY_WORKFLOW_TYPE: &str = "FlowgateCallbackDelivery";

/// Prefix of every delivery workflow's id; workflow ids starting with it are Flowgate's own.
pub const DELIVERY_ID_PREFIX: &str = "flowgate-callbacks/";

/// The delivery workflow's query answering its [`DeliveryState`].
pub const STATE_QUERY: &str = "delivery_state";

/// Most callbacks one start may name.
pub const MAX_CALLBACKS: usize = 5;

/// Longest callback URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// The id of the delivery workflow of the run `run_id` (one per run, so a retried start finds
/// the one already started).
pub fn delivery_workflow_id(run_id: &str) -> String {
    format!("{DELIVERY_ID_PREFIX}{run_id}")
}

/// The `webhook-id` of the notification to the `index`th callback of the run `run_id`: the same
/// on every attempt, so receivers can drop duplicates.
pub fn webhook_id(run_id: &str, index: usize) -> String {
    format!("msg_{}_{index}", run_id.replace('-', ""))
}

/// The activity id of the delivery to the `index`th callback (stable, so pending attempts can
/// be matched to their callback).
pub fn delivery_activity_id(index: usize) -> String {
    format!("deliver-{index}")
}

/// How a workflow closed, as a callback's `events` filter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallbackEvent {
    /// Completed with a result.
    Completed,
    /// Failed with an error.
    Failed,
    /// Canceled.
    Canceled,
    /// Terminated.
    Terminated,
    /// Timed out (its execution or run timeout).
    TimedOut,
}

impl CallbackEvent {
    /// The word used in statuses and notification types (`completed`, `timed_out`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Terminated => "terminated",
            Self::TimedOut => "timed_out",
        }
    }
}

/// A URL to notify when the workflow closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Callback {
    /// Where to POST the notification: `https://` (`http://` only where the deployment allows
    /// it), a host the deployment allows, never a private, loopback or link-local address
    /// unless it allows them. Redirects are not followed.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://hooks.example.com/flowgate", max_length = 2048)
    )]
    pub url: String,
    /// Only these closes are notified (default: every close).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<CallbackEvent>>,
}

impl Callback {
    /// Whether a close with `event` is notified to this callback.
    pub fn wants(&self, event: CallbackEvent) -> bool {
        self.events
            .as_ref()
            .is_none_or(|events| events.contains(&event))
    }
}

/// The delivery workflow's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryInput {
    /// The workflow whose close is notified.
    pub workflow_id: String,
    /// Its run.
    pub run_id: String,
    /// The callbacks, in the start's order.
    pub callbacks: Vec<Callback>,
    /// How each notification is retried (the `webhooks.*` settings of the API that started the
    /// delivery, fixed for its life so its history replays the same).
    pub retry: DeliveryRetry,
}

/// How a notification is retried, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRetry {
    /// Give up after this long (`webhooks.retry_for`).
    pub retry_for_ms: u64,
    /// First wait between attempts, doubling after each (`webhooks.initial_retry_interval`).
    pub initial_interval_ms: u64,
    /// Longest wait between attempts (`webhooks.max_retry_interval`).
    pub max_interval_ms: u64,
    /// Bound on one attempt (`webhooks.attempt_timeout`).
    pub attempt_timeout_ms: u64,
}

/// Where one callback's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The workflow is running, or the notification is being sent (retried until
    /// `webhooks.retry_for` is spent).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: refused by the destination rules, or no 2xx within `webhooks.retry_for`.
    Failed,
    /// The close was not among the callback's `events`.
    Skipped,
}

/// One callback's delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallbackState {
    /// The callback's URL.
    pub url: String,
    /// Its filter, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<CallbackEvent>>,
    /// The `webhook-id` of its notification (the same on every attempt).
    pub webhook_id: String,
    /// Where the delivery stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the receiver accepted it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// When the next attempt is due, while one is (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
}

/// What the delivery workflow's [`STATE_QUERY`] answers, and `GET /v1/workflows/{id}/callbacks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryState {
    /// The notified workflow.
    pub workflow_id: String,
    /// Its run.
    pub run_id: String,
    /// How it closed, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_as: Option<CallbackEvent>,
    /// Each callback, in the start's order.
    pub callbacks: Vec<CallbackState>,
}

/// The JSON body POSTed to a callback (Standard Webhooks: `type`, `timestamp`, `data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "type": "workflow.completed",
    "timestamp": "2026-12-06T12:00:03Z",
    "data": {
        "workflow_id": "shopping-5f1c…",
        "run_id": "0193a8c0-…",
        "workflow_type": "ShoppingWorkflow",
        "status": "completed",
        "result": "Ordered 3 Apples.",
        "started_at": "2026-12-06T12:00:00Z",
        "closed_at": "2026-12-06T12:00:03Z"
    }
})))]
pub struct WebhookNotification {
    /// `workflow.<status>`, e.g. `workflow.completed`, `workflow.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the workflow closed (RFC 3339).
    pub timestamp: String,
    /// The closed run.
    pub data: ClosedRun,
}

/// A closed run, as notified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosedRun {
    /// The workflow id.
    pub workflow_id: String,
    /// The run.
    pub run_id: String,
    /// Its Temporal workflow type.
    pub workflow_type: String,
    /// How it closed.
    pub status: CallbackEvent,
    /// The result, when completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The error, when failed, canceled, terminated or timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ClosedError>,
    /// When it started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it closed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

/// Why a run did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosedError {
    /// What happened, in words.
    pub message: String,
    /// The failure's type, when it has one (an application failure's type).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub kind: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_ids_are_stable_per_run_and_callback() {
        let run = "0193a8c0-1234-7abc-9def-0123456789ab";
        assert_eq!(webhook_id(run, 0), webhook_id(run, 0));
        assert_ne!(webhook_id(run, 0), webhook_id(run, 1));
        assert!(webhook_id(run, 1).starts_with("msg_0193a8c0"));
        assert_eq!(
            delivery_workflow_id(run),
            format!("flowgate-callbacks/{run}")
        );
    }

    #[test]
    fn a_callback_without_events_wants_every_close() {
        let all = Callback {
            url: "https://x".to_owned(),
            events: None,
        };
        assert!(all.wants(CallbackEvent::TimedOut));
        let some = Callback {
            events: Some(vec![CallbackEvent::Failed]),
            ..all
        };
        assert!(some.wants(CallbackEvent::Failed));
        assert!(!some.wants(CallbackEvent::Completed));
    }
}
