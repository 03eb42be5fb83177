//! The delivery workflow: wait for the notified run to close, then deliver to each callback.
#![expect(
    unreachable_pub,
    reason = "the SDK macros generate undocumented, public marker items for each method"
)]

use std::time::Duration;

use flowgate_workflows::callbacks::{
    CallbackState, ClosedRun, DeliveryInput, DeliveryRetry, DeliveryState, DeliveryStatus,
    WebhookNotification, delivery_activity_id, webhook_id,
};
use temporalio_common::{ActivityCloseTimeouts, RetryPolicy, error::ApplicationFailure};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
    WorkflowTermination, workflows::join_all,
};

use super::activities::{AwaitClose, Deliver, DeliveryActivities};

/// Failure type of a delivery workflow given an input it cannot read.
const INVALID_DELIVERY: &str = "InvalidCallbackDelivery";

/// How long the wait for a close may take in all: far beyond any run Flowgate starts, so the
/// heartbeat timeout, not this, notices a lost worker.
const AWAIT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10 * 366 * 24 * 60 * 60);

/// A worker that stops heartbeating the wait for this long is presumed gone; the wait resumes
/// on another (or the restarted) worker.
const AWAIT_CLOSE_HEARTBEAT: Duration = Duration::from_secs(30);

/// Notifies a run's callbacks when it closes: one per run that names callbacks, started by the
/// API with the run. Its state (each callback's status, attempts, last error) answers the
/// `delivery_state` query.
#[workflow]
#[derive(Default)]
pub struct CallbackDeliveryWorkflow {
    state: Option<DeliveryState>,
}

#[workflow_methods]
impl CallbackDeliveryWorkflow {
    /// Waits for the close, then delivers the notification to every callback that wants it,
    /// concurrently.
    #[run(name = "FlowgateCallbackDelivery")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: serde_json::Value,
    ) -> WorkflowResult<DeliveryState> {
        let input: DeliveryInput = serde_json::from_value(input).map_err(|e| {
            ApplicationFailure::builder(format!("invalid delivery input: {e}"))
                .type_name(INVALID_DELIVERY.to_owned())
                .non_retryable(true)
                .build()
        })?;
        let initial = DeliveryState {
            workflow_id: input.workflow_id.clone(),
            run_id: input.run_id.clone(),
            closed_as: None,
            callbacks: input
                .callbacks
                .iter()
                .enumerate()
                .map(|(index, callback)| CallbackState {
                    url: callback.url.clone(),
                    events: callback.events.clone(),
                    webhook_id: webhook_id(&input.run_id, index),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    last_error: None,
                    delivered_at: None,
                    next_attempt_at: None,
                })
                .collect(),
        };
        ctx.state_mut(|wf| wf.state = Some(initial));
        let closed: ClosedRun = ctx
            .execute_activity(
                DeliveryActivities::await_close,
                AwaitClose {
                    workflow_id: input.workflow_id.clone(),
                    run_id: input.run_id.clone(),
                },
                await_close_options(),
            )
            .await
            .map_err(ended)?;
        let event = closed.status;
        let closed_at_ms = closed.closed_at.as_deref().and_then(epoch_ms);
        let body = serde_json::to_string(&WebhookNotification {
            kind: format!("workflow.{}", event.as_str()),
            timestamp: closed.closed_at.clone().unwrap_or_default(),
            data: closed,
        })
        .map_err(|e| {
            ApplicationFailure::builder(format!("cannot encode the notification: {e}"))
                .non_retryable(true)
                .build()
        })?;
        ctx.state_mut(|wf| {
            if let Some(state) = &mut wf.state {
                state.closed_as = Some(event);
                for (callback, wanted) in state.callbacks.iter_mut().zip(&input.callbacks) {
                    if !wanted.wants(event) {
                        callback.status = DeliveryStatus::Skipped;
                    }
                }
            }
        });
        let ctx = &*ctx;
        let deliveries = input
            .callbacks
            .iter()
            .enumerate()
            .filter(|(_, callback)| callback.wants(event))
            .map(|(index, callback)| {
                let request = Deliver {
                    url: callback.url.clone(),
                    webhook_id: webhook_id(&input.run_id, index),
                    body: body.clone(),
                    closed_at_ms,
                    retry: input.retry,
                };
                let options = deliver_options(&input.retry, index);
                async move {
                    let result = ctx
                        .execute_activity(DeliveryActivities::deliver, request, options)
                        .await;
                    ctx.state_mut(|wf| {
                        let Some(callback) =
                            wf.state.as_mut().and_then(|s| s.callbacks.get_mut(index))
                        else {
                            return;
                        };
                        match &result {
                            Ok(done) => {
                                callback.status = if done.delivered {
                                    DeliveryStatus::Delivered
                                } else {
                                    DeliveryStatus::Failed
                                };
                                callback.attempts = done.attempts;
                                callback.last_error.clone_from(&done.last_error);
                                callback.delivered_at.clone_from(&done.delivered_at);
                            }
                            Err(error) => {
                                callback.status = DeliveryStatus::Failed;
                                callback.last_error = Some(error.to_string());
                            }
                        }
                    });
                    result.map(|_| ())
                }
            });
        for result in join_all(deliveries).await {
            if let Err(ActivityExecutionError::Cancelled(_)) = result {
                return Err(WorkflowTermination::cancelled());
            }
        }
        Ok(ctx
            .state(|wf| wf.state.clone())
            .unwrap_or_else(|| DeliveryState {
                workflow_id: input.workflow_id,
                run_id: input.run_id,
                closed_as: Some(event),
                callbacks: Vec::new(),
            }))
    }

    /// Where each callback's delivery stands.
    #[query(name = "delivery_state")]
    pub fn delivery_state(&self, _ctx: &WorkflowContextView) -> Option<DeliveryState> {
        self.state.clone()
    }
}

/// A cancel ends the workflow as canceled; anything else fails it.
fn ended(error: ActivityExecutionError) -> WorkflowTermination {
    match error {
        ActivityExecutionError::Cancelled(_) => WorkflowTermination::cancelled(),
        other => other.into(),
    }
}

/// The wait: one long activity, heartbeating, retried without end (Temporal down, a lost
/// worker).
fn await_close_options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(AWAIT_CLOSE_TIMEOUT)
        .heartbeat_timeout(AWAIT_CLOSE_HEARTBEAT)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(0)
                .build(),
        )
        .summary("wait for the workflow to close".to_owned())
        .build()
}

/// A delivery: one attempt per activity attempt, Temporal's retry policy backing off between
/// them; the activity itself gives up at `retry_for` (see `activities.rs`), the
/// schedule-to-close timeout only guards that.
fn deliver_options(retry: &DeliveryRetry, index: usize) -> ActivityOptions {
    let attempt_timeout = Duration::from_millis(retry.attempt_timeout_ms);
    let max_interval = Duration::from_millis(retry.max_interval_ms);
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_millis(retry.retry_for_ms)
            + max_interval
            + attempt_timeout * 2,
        start_to_close: attempt_timeout + Duration::from_secs(10),
    })
    .activity_id(delivery_activity_id(index))
    .retry_policy(
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(retry.initial_interval_ms))
            .backoff_coefficient(2.0)
            .maximum_interval(max_interval)
            .maximum_attempts(0)
            .build(),
    )
    .summary(format!("deliver to callback {index}"))
    .build()
}

/// Milliseconds since the epoch of an RFC 3339 time.
fn epoch_ms(time: &str) -> Option<u64> {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
}
