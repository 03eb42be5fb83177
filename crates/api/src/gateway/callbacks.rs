//! Completion webhooks on Temporal's side: registering a run's callbacks (starting its delivery
//! workflow) and reading where their deliveries stand.
//!
//! The delivery workflow (`flowgate_workflows::callbacks`) runs on the worker; the API only
//! starts it, queries it and describes it. Its id is derived from the notified run's id and its
//! start is deduplicated by Temporal (a derived request id, `use_existing` while it runs, and
//! `reject_duplicate` once it closed), so a retried start registers the callbacks once.

use std::time::Duration;

use flowgate_config::WebhookSettings;
use flowgate_workflows::callbacks::{
    Callback, DELIVERY_WORKFLOW_TYPE, DeliveryInput, DeliveryRetry, DeliveryState, DeliveryStatus,
    STATE_QUERY, delivery_activity_id, delivery_workflow_id,
};
use serde_json::Map;
use temporalio_client::{WorkflowDescribeOptions, WorkflowExecutionStatus};
use temporalio_common::protos::temporal::api::enums::v1::{
    PendingActivityState, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};

use super::{Gateway, Outcome, StartSpec, failure};
use crate::error::ApiError;

impl Gateway {
    /// Starts the delivery of `callbacks` for run `run_id` of `workflow_id` on `task_queue`
    /// (once per run: a repeated call finds the delivery already registered).
    pub(crate) async fn register_callbacks(
        &self,
        workflow_id: &str,
        run_id: &str,
        callbacks: &[Callback],
        settings: &WebhookSettings,
        task_queue: &str,
    ) -> Result<(), ApiError> {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let input = DeliveryInput {
            workflow_id: workflow_id.to_owned(),
            run_id: run_id.to_owned(),
            callbacks: callbacks.to_vec(),
            retry: DeliveryRetry {
                retry_for_ms: millis(settings.retry_for),
                initial_interval_ms: millis(settings.initial_retry_interval),
                max_interval_ms: millis(settings.max_retry_interval),
                attempt_timeout_ms: millis(settings.attempt_timeout),
            },
        };
        let spec = StartSpec {
            workflow_type: DELIVERY_WORKFLOW_TYPE.to_owned(),
            task_queue: task_queue.to_owned(),
            workflow_id: delivery_workflow_id(run_id),
            input: serde_json::to_value(&input).map_err(ApiError::internal)?,
            memo: Map::new(),
            search_attributes: Map::new(),
            start_delay: None,
            id_reuse_policy: WorkflowIdReusePolicy::RejectDuplicate,
            id_conflict_policy: WorkflowIdConflictPolicy::UseExisting,
            request_id: Some(format!("callbacks-{run_id}")),
            with: None,
        };
        match self.start_execution(&spec).await {
            // Closed already: it was registered, and has delivered.
            Ok(_) | Err(ApiError::WorkflowAlreadyExists(_)) => Ok(()),
            Err(error) => {
                tracing::warn!(%workflow_id, %run_id, %error, "cannot register the callbacks");
                Err(ApiError::CallbacksNotRegistered(workflow_id.to_owned()))
            }
        }
    }

    /// Where the deliveries of run `run_id`'s callbacks stand: the delivery workflow's state
    /// (its query while it runs, its result once done), with the attempts of deliveries in
    /// progress from its pending activities.
    pub(crate) async fn callback_state(
        &self,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<DeliveryState, ApiError> {
        let not_found = || ApiError::CallbacksNotFound(workflow_id.to_owned());
        let delivery_id = delivery_workflow_id(run_id);
        let handle = self.handle(&delivery_id, None)?;
        let call = handle.describe(
            WorkflowDescribeOptions::builder()
                .rpc_options(self.rpc_options())
                .build(),
        );
        let described = match self.link.bounded(self.rpc_timeout, call).await? {
            Ok(described) => described,
            Err(error) => {
                return match failure::interaction_error(error, &delivery_id) {
                    ApiError::WorkflowNotFound(_) => Err(not_found()),
                    other => Err(other),
                };
            }
        };
        let raw = described.raw();
        let info = raw.workflow_execution_info.as_ref();
        if info
            .and_then(|i| i.r#type.as_ref())
            .map(|t| t.name.as_str())
            != Some(DELIVERY_WORKFLOW_TYPE)
        {
            return Err(not_found());
        }
        let value = if described.status() == WorkflowExecutionStatus::Running {
            self.query(&delivery_id, STATE_QUERY, None).await?
        } else {
            match Box::pin(self.outcome(&delivery_id, None, Duration::ZERO, false))
                .await?
                .1
            {
                Outcome::Completed(value) => value,
                _ => return Err(not_found()),
            }
        };
        let mut state: DeliveryState = match serde_json::from_value(value) {
            Ok(Some(state)) => state,
            Ok(None) => return Err(not_found()),
            Err(error) => return Err(ApiError::internal(anyhow::anyhow!(error))),
        };
        if state.workflow_id != workflow_id {
            return Err(not_found());
        }
        for pending in &raw.pending_activities {
            let Some(callback) = (0..state.callbacks.len())
                .find(|i| delivery_activity_id(*i) == pending.activity_id)
                .and_then(|i| state.callbacks.get_mut(i))
            else {
                continue;
            };
            if callback.status != DeliveryStatus::Pending {
                continue;
            }
            let running = pending.state() == PendingActivityState::Started;
            let attempt = u32::try_from(pending.attempt).unwrap_or(0);
            callback.attempts = if running {
                attempt.saturating_sub(1)
            } else {
                attempt
                    .saturating_sub(1)
                    .max(u32::from(pending.last_failure.is_some()))
            };
            callback.last_error = pending.last_failure.as_ref().map(|f| f.message.clone());
            callback.next_attempt_at = pending
                .next_attempt_schedule_time
                .as_ref()
                .filter(|_| !running)
                .and_then(|t| {
                    chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
                })
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
        Ok(state)
    }
}
