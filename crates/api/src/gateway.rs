//! Temporal operations the routes need, each bounded in time and mapped to [`ApiError`]s.
//!
//! Workflows are started untyped (type name + JSON payload), the way any Temporal SDK would see
//! them, so the API needs the workflows' names and types but never their code.

mod callbacks;
mod describe;
mod events;
mod failure;
mod history;
mod keyed;
mod list;
mod messages;
mod payload;
mod start;
mod with_start;

use std::time::{Duration, Instant};

use flowgate_temporal::TemporalLink;
use futures::FutureExt as _;
use serde::Serialize;
use temporalio_client::{
    NamespacedClient as _, RpcOptions, UntypedWorkflow, WorkflowExecutionInfo,
    WorkflowExecutionStatus, WorkflowHandle,
};
use temporalio_common::protos::temporal::api::{
    common::v1::WorkflowExecution, enums::v1::HistoryEventFilterType,
    workflowservice::v1::GetWorkflowExecutionHistoryRequest,
};

mod reason;

pub(crate) use describe::Execution;
pub(crate) use events::{EventKind, EventOut, EventTyper};
pub(crate) use keyed::Keyed;
pub(crate) use start::{StartSpec, WithStart};

use crate::{
    drain::Drain,
    error::ApiError,
    metrics::{ApiMetrics, FailureReason, TemporalOperation},
};

/// Starts, describes and waits for workflows.
#[derive(Clone)]
pub(crate) struct Gateway {
    link: TemporalLink,
    rpc_timeout: Duration,
    metrics: ApiMetrics,
    drain: Drain,
}

/// How a workflow ended, or that it has not yet.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Finished with this result.
    Completed(serde_json::Value),
    /// Still running when the wait ended.
    Running,
    /// Ended without a result.
    Unsuccessful {
        /// FAILED, CANCELED, TERMINATED or TIMED_OUT.
        status: WorkflowExecutionStatus,
        /// Why.
        error: ErrorInfo,
    },
}

/// Why a workflow did not complete.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorInfo {
    /// Failure type: the application error type (e.g. `InvalidShoppingList`) or Temporal's
    /// failure kind (`ActivityFailure`, `TimeoutFailure`, `CanceledFailure`, `TerminatedFailure`).
    #[serde(rename = "type")]
    #[schema(example = "InvalidShoppingList")]
    pub error_type: String,
    /// Human-readable message, outermost failure first, causes after `: `.
    #[schema(example = "activity task failed: amount must be a positive integer, got 0")]
    pub message: String,
}

impl Gateway {
    /// Operations over `link`, each single call bounded by `rpc_timeout` and recorded in
    /// `metrics`; waits for workflows and updates end when `drain` begins.
    pub(crate) fn new(
        link: TemporalLink,
        rpc_timeout: Duration,
        metrics: ApiMetrics,
        drain: Drain,
    ) -> Self {
        Self {
            link,
            rpc_timeout,
            metrics,
            drain,
        }
    }

    fn rpc_options(&self) -> RpcOptions {
        RpcOptions::builder().timeout(self.rpc_timeout).build()
    }

    /// Runs one Temporal call and records its duration and, if it failed, why.
    ///
    /// `call` is held in place, not moved into a wrapping `async fn` (which would keep a second
    /// copy of it in its state: a Temporal call's future is several KiB).
    fn observed<T>(
        &self,
        operation: TemporalOperation,
        call: impl Future<Output = Result<T, ApiError>>,
    ) -> impl Future<Output = Result<T, ApiError>> {
        let started = Instant::now();
        call.map(move |result| self.record_call(operation, started.elapsed(), result))
    }

    /// Records a finished Temporal call of `operation` that took `elapsed`.
    fn record_call<T>(
        &self,
        operation: TemporalOperation,
        elapsed: Duration,
        result: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        // Most calls are bounded by `rpc_timeout`. A result long-poll and an update are bounded
        // by the request's wait, and reaching it is an answer ("running", 504), not a failure.
        let hit_bound = !matches!(
            operation,
            TemporalOperation::GetResult
                | TemporalOperation::Update
                | TemporalOperation::UpdateResult
                | TemporalOperation::WatchHistory
        ) && elapsed >= self.rpc_timeout;
        let failure = result
            .as_ref()
            .err()
            .and_then(|error| FailureReason::of(error, hit_bound));
        self.metrics.temporal_call(operation, elapsed, failure);
        result
    }

    /// A handle on run `run_id` of `workflow_id`, or on its latest run.
    fn handle(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
    ) -> Result<WorkflowHandle<temporalio_client::Client, UntypedWorkflow>, ApiError> {
        let client = self.link.client()?;
        let info = WorkflowExecutionInfo::builder()
            .namespace(client.namespace())
            .workflow_id(workflow_id)
            .maybe_run_id(run_id.map(str::to_owned))
            .build();
        Ok(WorkflowHandle::new(client, info))
    }

    /// Waits up to `wait` for run `run_id` of `workflow_id` (or its latest run) to end: the
    /// run's id and how it stands. A zero wait peeks, and so does every wait once the drain has
    /// begun; a wait in progress when it begins ends as if its time had run out (`Running`), so
    /// a drain never cuts a request that waits. A run that continues as new is `Running`: its
    /// workflow's latest run goes on. The latest run's id is looked up (one describe) only for a
    /// peek or when `name_run` asks for it; otherwise the id returned is empty.
    pub(crate) async fn outcome(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
        wait: Duration,
        name_run: bool,
    ) -> Result<(String, Outcome), ApiError> {
        let wait = if self.drain.is_draining() {
            Duration::ZERO
        } else {
            wait
        };
        // The run's id, and (for a peek) whether it runs, are the describe's to tell.
        let described = if wait.is_zero() || (run_id.is_none() && name_run) {
            Some(Box::pin(self.describe_run(workflow_id, run_id)).await?)
        } else {
            None
        };
        let run_id = match (run_id, &described) {
            (Some(run_id), _) => run_id.to_owned(),
            (None, Some(described)) => described.run_id.clone(),
            (None, None) => String::new(),
        };
        if wait.is_zero() && described.is_some_and(|d| d.status == WorkflowExecutionStatus::Running)
        {
            return Ok((run_id, Outcome::Running));
        }
        // Boxed, as every large wait here: a future's state lives on the stack until it is.
        let outcome = Box::pin(self.observed(
            TemporalOperation::GetResult,
            self.get_result(workflow_id, &run_id, wait),
        ))
        .await?;
        let outcome = Box::pin(self.with_close_reason(workflow_id, &run_id, outcome)).await;
        Ok((run_id, outcome))
    }

    /// `outcome`, with the reason given to cancel or terminate the run added to its error's
    /// message (read from the end of its history; left as it is if that read fails).
    async fn with_close_reason(
        &self,
        workflow_id: &str,
        run_id: &str,
        outcome: Outcome,
    ) -> Outcome {
        let Outcome::Unsuccessful { status, mut error } = outcome else {
            return outcome;
        };
        if matches!(
            status,
            WorkflowExecutionStatus::Canceled | WorkflowExecutionStatus::Terminated
        ) {
            match self.close_reason(workflow_id, run_id).await {
                Ok(Some(reason)) => error.message = format!("{}: {reason}", error.message),
                Ok(None) => {}
                Err(e) => tracing::debug!(%workflow_id, error = %e, "no close reason"),
            }
        }
        Outcome::Unsuccessful { status, error }
    }

    /// Waits up to `wait` (at least a peek's worth) for run `run_id` of `workflow_id` to end,
    /// or until the drain begins.
    async fn get_result(
        &self,
        workflow_id: &str,
        run_id: &str,
        wait: Duration,
    ) -> Result<Outcome, ApiError> {
        let mut direct = self.link.direct()?;
        // A peek reads the result of a workflow that has closed: a drain must not cut that.
        let peek = wait.is_zero();
        // A closed workflow answers at once; give a peek one RPC's worth of time.
        let wait = wait.max(self.rpc_timeout.min(Duration::from_secs(1)));
        let mut request = GetWorkflowExecutionHistoryRequest {
            namespace: direct.namespace().to_owned(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.to_owned(),
                run_id: run_id.to_owned(),
            }),
            wait_new_event: true,
            history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
            skip_archival: true,
            ..Default::default()
        };
        // The run's close event. Temporal ends a long poll that saw none with an empty page and
        // a token to poll on from.
        let close = async {
            loop {
                let page = direct
                    .call(
                        |s, r| s.get_workflow_execution_history(r),
                        history::LONG_POLL,
                        || request.clone(),
                    )
                    .await
                    .map_err(|status| failure::read_error(status, workflow_id))?
                    .into_inner();
                if let Some(event) = page.history.and_then(|mut h| h.events.pop()) {
                    return Ok::<_, ApiError>(event);
                }
                request.next_page_token = page.next_page_token;
            }
        };
        let call = self.link.unless_down(close);
        let event = tokio::select! {
            biased;
            () = self.drain.started(), if !peek => return Ok(Outcome::Running),
            result = tokio::time::timeout(wait, call) => match result {
                Err(_elapsed) => return Ok(Outcome::Running),
                Ok(event) => event??,
            },
        };
        failure::closed(event.attributes)
    }
}
