//! Workflow code (feature `worker`).
#![expect(
    missing_docs,
    reason = "the SDK macros generate undocumented marker constants for each method"
)]

use std::time::Duration;

use temporalio_common::{data_converters::RawValue, error::ApplicationFailure};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    CancellableFuture, SyncWorkflowContext, TimerOptions, TimerResult, WorkflowContext,
    WorkflowContextView, WorkflowResult, WorkflowTermination, workflows::select,
};

use super::{CartOutcome, CartRequest, CartState, CartStatus, INVALID_CART_REQUEST};
use crate::{
    registry::{Limits, Validate},
    shopping::{ShoppingItem, order_items},
};

/// Collects items until the cart is checked out (signal or timer), then orders them.
///
/// The input is read as plain JSON and checked here: a malformed request fails the workflow
/// (non-retryable `InvalidCartRequest`). The `checkout` signal's payloads, if any, are not read,
/// so no argument can fail the workflow task. Items come through an update, whose validator
/// rejects a malformed or late item before it reaches the history.
#[workflow]
pub struct CartWorkflow {
    status: CartStatus,
    /// How long the cart stays open, or why the request is invalid.
    checkout_after: Result<Duration, String>,
}

#[workflow_methods]
impl CartWorkflow {
    /// Reads the request before any handler runs: an update that arrives with the start (in the
    /// first workflow task) already sees the customer.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: serde_json::Value) -> Self {
        let mut status = CartStatus::default();
        let checkout_after = parse_request(input).map(|(request, checkout_after)| {
            status.customer = request.customer;
            checkout_after
        });
        Self {
            status,
            checkout_after,
        }
    }

    /// Waits for the checkout signal or the `checkout_after` timer, whichever comes first.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartOutcome> {
        let checkout_after = ctx
            .state(|wf| wf.checkout_after.clone())
            .map_err(invalid_request)?;
        let timer = ctx.timer(
            TimerOptions::builder(checkout_after)
                .summary("checkout after".to_owned())
                .build(),
        );
        let mut timer = std::pin::pin!(timer);
        // A checkout signal wins over a timer firing in the same workflow task: it is polled
        // first.
        select! {
            checked_out = ctx.wait_condition(|wf: &Self| wf.status.state != CartState::Open) => {
                checked_out?;
                timer.cancel();
            }
            fired = timer.as_mut() => match fired {
                TimerResult::Fired => ctx.state_mut(|wf| wf.status.check_out()),
                // The timer follows the workflow's cancellation: end as CANCELED.
                TimerResult::Cancelled => return Err(WorkflowTermination::cancelled()),
            },
        }
        let (state, items) = ctx.state(|wf| (wf.status.state, wf.status.items.clone()));
        let order_lines = match state {
            CartState::CheckedOut => Some(order_items(ctx, &items).await?),
            _ => None,
        };
        Ok(ctx.state(|wf| wf.status.outcome(order_lines)))
    }

    /// Checks the open cart out; ignored (and logged) once it is checked out. Any argument is
    /// ignored.
    #[signal]
    pub fn checkout(&mut self, ctx: &mut SyncWorkflowContext<Self>, _argument: RawValue) {
        if self.status.state != CartState::Open {
            if !ctx.is_replaying() {
                tracing::warn!(
                    workflow_id = ctx.workflow_id(),
                    current = self.status.state.as_str(),
                    "checkout ignored: the cart is already checked out"
                );
            }
            return;
        }
        self.status.check_out();
    }

    /// The cart as it stands.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> CartStatus {
        self.status.clone()
    }

    /// Runs before `add_item` is accepted: a rejected update leaves no trace in the history.
    #[update_validator(add_item)]
    fn validate_add_item(
        &self,
        _ctx: &WorkflowContextView,
        item: &ShoppingItem,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match self.status.add_rejection(item) {
            Some(reason) => Err(reason.into()),
            None => Ok(()),
        }
    }

    /// Adds an item (to its fruit's line when the cart has one); returns the cart.
    #[update]
    pub fn add_item(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        item: ShoppingItem,
    ) -> CartStatus {
        self.status.add(item);
        self.status.clone()
    }
}

/// A non-retryable failure: retrying a malformed request cannot succeed.
fn invalid_request(message: String) -> ApplicationFailure {
    ApplicationFailure::builder(message)
        .type_name(INVALID_CART_REQUEST.to_owned())
        .non_retryable(true)
        .build()
}

/// The request and its `checkout_after`, or why it is invalid.
fn parse_request(input: serde_json::Value) -> Result<(CartRequest, Duration), String> {
    let request: CartRequest =
        serde_json::from_value(input).map_err(|e| format!("invalid cart request: {e}"))?;
    if let Some(issue) = request.issues(&Limits::UNBOUNDED).into_iter().next() {
        return Err(format!(
            "invalid cart request: {}: {}",
            issue.pointer, issue.detail
        ));
    }
    let checkout_after = request.checkout_after()?;
    Ok((request, checkout_after))
}
