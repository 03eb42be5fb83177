//! Workflow code (feature `worker`).
#![expect(
    missing_docs,
    reason = "the SDK macros generate undocumented marker constants for each method"
)]

use std::time::Duration;

use serde::de::DeserializeOwned;
use temporalio_common::error::ApplicationFailure;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    CancellableFuture, SyncWorkflowContext, TimerOptions, TimerResult, WorkflowContext,
    WorkflowContextView, WorkflowResult, WorkflowTermination, workflows::select,
};

use super::{
    Approval, ApprovalOutcome, ApprovalRequest, ApprovalState, ApprovalStatus,
    INVALID_APPROVAL_REQUEST, Note, NoteCount, Rejection, note_rejection,
};
use crate::{
    registry::{Limits, Validate},
    shopping::order_items,
};

/// Holds an order until it is approved, rejected or expires; orders its items once approved.
///
/// The input and the signal arguments are read as plain JSON and checked here: a malformed
/// request fails the workflow (non-retryable `InvalidApprovalRequest`), and a malformed signal is
/// logged and ignored. Decoding them as typed arguments instead would fail the workflow task on
/// bad input and retry it forever.
#[workflow]
#[derive(Default)]
pub struct OrderApprovalWorkflow {
    status: ApprovalStatus,
}

#[workflow_methods]
impl OrderApprovalWorkflow {
    /// Waits for the first decision or the approval timeout, whichever comes first.
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: serde_json::Value,
    ) -> WorkflowResult<ApprovalOutcome> {
        let (request, timeout) = parse_request(input).map_err(invalid_request)?;
        ctx.state_mut(move |wf| {
            wf.status.customer = request.customer;
            wf.status.items = request.items;
        });
        let timer = ctx.timer(
            TimerOptions::builder(timeout)
                .summary("approval timeout".to_owned())
                .build(),
        );
        let mut timer = std::pin::pin!(timer);
        // A decision wins over a timer firing in the same workflow task: it is polled first.
        select! {
            decided = ctx.wait_condition(|wf: &Self| wf.status.state != ApprovalState::Pending) => {
                decided?;
                timer.cancel();
            }
            fired = timer.as_mut() => match fired {
                TimerResult::Fired => ctx.state_mut(|wf| {
                    wf.status.state = ApprovalState::Expired;
                    wf.status.reason = Some(format!(
                        "no decision within {}",
                        humantime::format_duration(timeout)
                    ));
                }),
                // The timer follows the workflow's cancellation: end as CANCELED.
                TimerResult::Cancelled => return Err(WorkflowTermination::cancelled()),
            },
        }
        let (state, items) = ctx.state(|wf| (wf.status.state, wf.status.items.clone()));
        let order_lines = match state {
            ApprovalState::Approved => Some(order_items(ctx, &items).await?),
            _ => None,
        };
        Ok(ctx.state(|wf| wf.status.outcome(order_lines)))
    }

    /// Approves a pending order.
    #[signal]
    pub fn approve(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: serde_json::Value) {
        if let Some(approval) = signal_argument::<Approval>(ctx, "approve", input) {
            self.decide(ctx, ApprovalState::Approved, approval.approver, None);
        }
    }

    /// Rejects a pending order.
    #[signal]
    pub fn reject(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: serde_json::Value) {
        if let Some(rejection) = signal_argument::<Rejection>(ctx, "reject", input) {
            let reason = Some(rejection.reason);
            self.decide(ctx, ApprovalState::Rejected, rejection.approver, reason);
        }
    }

    /// Where the order stands.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> ApprovalStatus {
        self.status.clone()
    }

    /// Runs before `add_note` is accepted: a rejected update leaves no trace in the history.
    #[update_validator(add_note)]
    fn validate_add_note(
        &self,
        _ctx: &WorkflowContextView,
        note: &Note,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match note_rejection(self.status.state, note) {
            Some(reason) => Err(reason.into()),
            None => Ok(()),
        }
    }

    /// Attaches a note; returns how many the order has.
    #[update]
    pub fn add_note(&mut self, _ctx: &mut SyncWorkflowContext<Self>, note: Note) -> NoteCount {
        self.status.notes.push(note.text);
        NoteCount(u32::try_from(self.status.notes.len()).unwrap_or(u32::MAX))
    }

    /// Records the first decision; later ones are logged and ignored.
    fn decide(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        state: ApprovalState,
        by: String,
        reason: Option<String>,
    ) {
        if self.status.state != ApprovalState::Pending {
            if !ctx.is_replaying() {
                tracing::warn!(
                    workflow_id = ctx.workflow_id(),
                    ignored = state.as_str(),
                    by = %by,
                    current = self.status.state.as_str(),
                    "decision ignored: the order is already decided"
                );
            }
            return;
        }
        self.status.state = state;
        self.status.decided_by = Some(by);
        self.status.reason = reason;
    }
}

/// A signal's argument, or `None` (logged once, not on replay) when it is malformed.
fn signal_argument<T: DeserializeOwned + Validate>(
    ctx: &SyncWorkflowContext<OrderApprovalWorkflow>,
    signal: &str,
    input: serde_json::Value,
) -> Option<T> {
    let problem = match serde_json::from_value::<T>(input) {
        Ok(value) => match value.issues(&Limits::UNBOUNDED).into_iter().next() {
            None => return Some(value),
            Some(issue) => format!("{}: {}", issue.pointer, issue.detail),
        },
        Err(error) => error.to_string(),
    };
    if !ctx.is_replaying() {
        tracing::warn!(
            workflow_id = ctx.workflow_id(),
            signal,
            %problem,
            "malformed signal ignored"
        );
    }
    None
}

/// A non-retryable failure: retrying a malformed request cannot succeed.
fn invalid_request(message: String) -> ApplicationFailure {
    ApplicationFailure::builder(message)
        .type_name(INVALID_APPROVAL_REQUEST.to_owned())
        .non_retryable(true)
        .build()
}

/// The request and its approval timeout, or why it is invalid.
fn parse_request(input: serde_json::Value) -> Result<(ApprovalRequest, Duration), String> {
    let request: ApprovalRequest =
        serde_json::from_value(input).map_err(|e| format!("invalid approval request: {e}"))?;
    if let Some(issue) = request.issues(&Limits::UNBOUNDED).into_iter().next() {
        return Err(format!(
            "invalid approval request: {}: {}",
            issue.pointer, issue.detail
        ));
    }
    let timeout = request.timeout()?;
    Ok((request, timeout))
}
