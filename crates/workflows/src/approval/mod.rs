//! An order awaiting approval: the workflow holds a shopping list until someone approves it
//! (signal `approve`, then its items are ordered with the shopping activities), rejects it
//! (signal `reject`) or the approval timeout passes. Query `status` reads where it stands; update
//! `add_note` attaches a note while it is pending.
//!
//! Every message is invocable by name with one `json/plain` payload (the query takes none), so
//! any client — the REST API included — can send it without the Rust types.

#[cfg(feature = "worker")]
mod implementation;
mod rules;
#[cfg(test)]
mod tests;

#[cfg(feature = "worker")]
pub use implementation::OrderApprovalWorkflow;
pub use rules::note_rejection;

use serde::{Deserialize, Serialize};

use crate::{
    registry::{Message, WorkflowDef},
    shopping::{OrderProgress, ShoppingItem},
};

/// Temporal workflow type name.
pub const WORKFLOW_TYPE: &str = "OrderApprovalWorkflow";

/// Prefix of generated workflow ids: `order-approval-<uuid>`.
pub(crate) const WORKFLOW_ID_PREFIX: &str = "order-approval-";

/// Failure type of a request the workflow cannot process (non-retryable).
pub const INVALID_APPROVAL_REQUEST: &str = "InvalidApprovalRequest";

/// How long a request waits for a decision when it names no `approval_timeout`.
pub(crate) const DEFAULT_APPROVAL_TIMEOUT: &str = "24h";

/// Signal that approves the order.
pub(crate) const SIGNAL_APPROVE: &str = "approve";
/// Signal that rejects the order.
pub(crate) const SIGNAL_REJECT: &str = "reject";
/// Query that reads the order's [`ApprovalStatus`].
pub(crate) const QUERY_STATUS: &str = "status";
/// Update that attaches a [`Note`] to a pending order.
pub(crate) const UPDATE_ADD_NOTE: &str = "add_note";

/// The workflow's input: who the order is for, what to order, how long to wait for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "customer": "ACME Corp",
    "items": [{"fruit": "APPLE", "amount": 5}],
    "approval_timeout": "1h"
})))]
pub struct ApprovalRequest {
    /// Who the order is for (1 to 200 characters, not blank).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 200, example = "ACME Corp")
    )]
    pub customer: String,
    /// Items to order once approved, in this order (at least one).
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub items: Vec<ShoppingItem>,
    /// How long to wait for a decision before the request expires: a number of seconds or a
    /// duration such as `30s`, `15m`, `1h`, `7d` or `1h 30m`, from 1 second to 30 days.
    /// Default `24h`.
    #[serde(
        default,
        deserialize_with = "crate::duration::seconds_or_text",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<crate::duration::SecondsOrDuration>, example = "1h")
    )]
    pub approval_timeout: Option<String>,
}

/// Argument of signal `approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"approver": "alice"})))]
pub struct Approval {
    /// Who approves (1 to 200 characters, not blank).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub approver: String,
}

/// Argument of signal `reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"approver": "bob", "reason": "over budget"}))
)]
pub struct Rejection {
    /// Who rejects (1 to 200 characters, not blank).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub approver: String,
    /// Why (1 to 500 characters, not blank).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    pub reason: String,
}

/// Argument of update `add_note`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"text": "customer asked for delivery on Monday"}))
)]
pub struct Note {
    /// The note (1 to 500 characters, not blank).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    pub text: String,
}

/// Result of update `add_note`: how many notes the order has now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = 1))]
#[serde(transparent)]
pub struct NoteCount(pub u32);

/// Where an order stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ApprovalState {
    /// Waiting for a decision.
    #[default]
    Pending,
    /// Approved: its items are (being) ordered.
    Approved,
    /// Rejected: nothing is ordered.
    Rejected,
    /// No decision within the approval timeout: nothing is ordered.
    Expired,
}

impl ApprovalState {
    /// The wire name (`pending`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Expired => "expired",
        }
    }
}

/// Result of query `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "state": "pending", "customer": "ACME Corp", "items": [{"fruit": "APPLE", "amount": 5}],
    "notes": ["customer asked for delivery on Monday"], "decided_by": null, "reason": null
})))]
pub struct ApprovalStatus {
    /// Where the order stands.
    pub state: ApprovalState,
    /// Who the order is for.
    pub customer: String,
    /// What it orders once approved.
    pub items: Vec<ShoppingItem>,
    /// Notes attached while it was pending, oldest first.
    pub notes: Vec<String>,
    /// Who approved or rejected it.
    pub decided_by: Option<String>,
    /// Why it was rejected, or why it expired.
    pub reason: Option<String>,
}

impl ApprovalStatus {
    /// The workflow's result once decided; `order_lines` are those of an approved order.
    pub fn outcome(&self, order_lines: Option<String>) -> ApprovalOutcome {
        ApprovalOutcome {
            state: self.state,
            order_lines,
            decided_by: self.decided_by.clone(),
            reason: self.reason.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// What the workflow returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "state": "approved", "order_lines": "Ordered 5 Apples...", "decided_by": "alice",
    "reason": null, "notes": ["customer asked for delivery on Monday"]
})))]
pub struct ApprovalOutcome {
    /// `approved`, `rejected` or `expired`.
    pub state: ApprovalState,
    /// The order lines of an approved order, e.g. `Ordered 5 Apples...`; `null` otherwise.
    pub order_lines: Option<String>,
    /// Who approved or rejected it; `null` when it expired.
    pub decided_by: Option<String>,
    /// Why it was rejected, or why it expired.
    pub reason: Option<String>,
    /// Notes attached while it was pending, oldest first.
    pub notes: Vec<String>,
}

/// The order-approval workflow's REST declaration (`/v1/workflows/order-approval`).
pub(crate) fn definition() -> WorkflowDef {
    let def = WorkflowDef::new::<ApprovalRequest, ApprovalOutcome>(
        "order-approval",
        WORKFLOW_TYPE,
        WORKFLOW_ID_PREFIX,
        "Holds an order until it is approved (its items are then ordered), rejected, or its \
         approval timeout passes.",
        || {
            serde_json::json!({
                "customer": "ACME Corp",
                "items": [{"fruit": "APPLE", "amount": 5}],
                "approval_timeout": "1h"
            })
        },
    )
    .signal(
        Message::new(
            SIGNAL_APPROVE,
            "Approves the pending order; its items are then ordered. Ignored once decided.",
        )
        .input::<Approval>(),
    )
    .signal(
        Message::new(
            SIGNAL_REJECT,
            "Rejects the pending order; nothing is ordered. Ignored once decided.",
        )
        .input::<Rejection>(),
    )
    .query(
        Message::new(
            QUERY_STATUS,
            "Where the order stands: state, items, notes, decision.",
        )
        .output::<ApprovalStatus>(),
    )
    .progress::<OrderProgress>()
    .update(
        Message::new(
            UPDATE_ADD_NOTE,
            "Attaches a note to the pending order and returns how many it has. Rejected (and not \
             recorded) when the text is blank or too long, or once the order is decided.",
        )
        .input::<Note>()
        .output::<NoteCount>(),
    );
    #[cfg(feature = "worker")]
    let def = def.implemented_by::<OrderApprovalWorkflow>();
    def
}
