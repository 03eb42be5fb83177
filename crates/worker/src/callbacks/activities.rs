//! The delivery workflow's activities: wait for the notified run to close, send a notification.
#![expect(
    unreachable_pub,
    reason = "the SDK macros generate undocumented, public marker items for each method"
)]

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use flowgate_config::WebhookSettings;
use flowgate_workflows::callbacks::{ClosedRun, DeliveryRetry};
use serde::{Deserialize, Serialize};
use temporalio_common::error::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::{
    WebhookMetrics,
    history::{self, Poll},
    send::{self, Attempt, Message},
};

/// Which run to wait for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AwaitClose {
    /// Its workflow id.
    pub workflow_id: String,
    /// Its run.
    pub run_id: String,
}

/// One notification to deliver, serialized once by the workflow so every attempt sends the same
/// bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deliver {
    /// Destination.
    pub url: String,
    /// `webhook-id`.
    pub webhook_id: String,
    /// The JSON body.
    pub body: String,
    /// When the notified run closed (ms since the epoch), for the delivery latency.
    pub closed_at_ms: Option<u64>,
    /// How attempts are retried.
    pub retry: DeliveryRetry,
}

/// How a delivery ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivered {
    /// Whether the receiver accepted it (else it was given up).
    pub delivered: bool,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When it was accepted (RFC 3339).
    pub delivered_at: Option<String>,
}

/// The delivery activities: the settings they check destinations against and sign with, and
/// where they count.
#[derive(Clone)]
pub struct DeliveryActivities {
    /// `[webhooks]` of the worker.
    pub settings: WebhookSettings,
    /// Delivery metrics.
    pub metrics: WebhookMetrics,
}

#[activities]
impl DeliveryActivities {
    /// Long-polls the run's close (following continue-as-new), heartbeating between polls; a
    /// worker that dies is noticed by the heartbeat timeout and the wait resumes elsewhere.
    #[activity(name = "flowgate_await_close")]
    pub async fn await_close(
        self: Arc<Self>,
        ctx: ActivityContext,
        target: AwaitClose,
    ) -> Result<ClosedRun, ActivityError> {
        let client = ctx.client();
        let mut run_id = target.run_id;
        loop {
            let _ = ctx.record_heartbeat(run_id.clone()).await;
            let poll = tokio::select! {
                poll = history::poll_close(&client, &target.workflow_id, &run_id) => poll,
                () = ctx.cancelled() => return Err(ActivityError::cancelled()),
            };
            match poll {
                Ok(Poll::Closed(closed)) => return Ok(closed),
                Ok(Poll::ContinuedAs(next)) => run_id = next,
                Ok(Poll::Open) => {}
                Ok(Poll::Gone) => {
                    return Err(ApplicationFailure::builder(format!(
                        "workflow {} run {run_id} does not exist",
                        target.workflow_id
                    ))
                    .non_retryable(true)
                    .build()
                    .into());
                }
                Err(error) => {
                    return Err(anyhow::anyhow!("{error:#}").into());
                }
            }
        }
    }

    /// Sends the notification until the receiver answers 2xx. A failed attempt fails the
    /// activity, so Temporal retries it with back-off (durably: the retry survives restarts);
    /// when the next attempt would come after `retry_for`, or the destination is refused,
    /// it completes as given up instead, so the workflow learns how many attempts were made.
    #[activity(name = "flowgate_deliver")]
    pub async fn deliver(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: Deliver,
    ) -> Result<Delivered, ActivityError> {
        let info = ctx.info();
        let attempts = info.attempt.max(1);
        let timeout = Duration::from_millis(request.retry.attempt_timeout_ms);
        let message = Message {
            url: &request.url,
            id: &request.webhook_id,
            body: &request.body,
        };
        let started = SystemTime::now();
        let sent = tokio::select! {
            sent = send::attempt(&self.settings, &message, timeout) => sent,
            () = ctx.cancelled() => return Err(ActivityError::cancelled()),
        };
        let given_up = |last_error: String| Delivered {
            delivered: false,
            attempts,
            last_error: Some(last_error),
            delivered_at: None,
        };
        match sent {
            Attempt::Delivered(status) => {
                self.metrics.attempt("delivered");
                self.metrics.delivered(request.closed_at_ms);
                tracing::info!(webhook_id = %request.webhook_id, status, attempts, "webhook delivered");
                Ok(Delivered {
                    delivered: true,
                    attempts,
                    last_error: None,
                    delivered_at: Some(
                        chrono::DateTime::<chrono::Utc>::from(started)
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    ),
                })
            }
            Attempt::Refused(why) => {
                self.metrics.attempt("refused");
                self.metrics.given_up("refused");
                tracing::warn!(webhook_id = %request.webhook_id, reason = %why, "webhook destination refused");
                Ok(given_up(format!("destination refused: {why}")))
            }
            Attempt::Failed { error, outcome } => {
                self.metrics.attempt(outcome);
                let first = info.scheduled_time.unwrap_or(started);
                let next = started + next_interval(&request.retry, attempts);
                let deadline = first + Duration::from_millis(request.retry.retry_for_ms);
                if next > deadline {
                    self.metrics.given_up("failed");
                    tracing::warn!(webhook_id = %request.webhook_id, %error, attempts, "webhook given up");
                    return Ok(given_up(error));
                }
                tracing::info!(webhook_id = %request.webhook_id, %error, attempts, "webhook attempt failed; retrying");
                Err(anyhow::anyhow!(error).into())
            }
        }
    }
}

/// The wait Temporal's retry policy (see `workflow.rs`) puts after attempt `attempt`.
pub(super) fn next_interval(retry: &DeliveryRetry, attempt: u32) -> Duration {
    let doubled = retry
        .initial_interval_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(40));
    Duration::from_millis(doubled.min(retry.max_interval_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_double_up_to_the_maximum() {
        let retry = DeliveryRetry {
            retry_for_ms: 0,
            initial_interval_ms: 1000,
            max_interval_ms: 5000,
            attempt_timeout_ms: 0,
        };
        let waits: Vec<_> = (1..=5)
            .map(|a| next_interval(&retry, a).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(next_interval(&retry, 200).as_secs(), 5);
    }
}
