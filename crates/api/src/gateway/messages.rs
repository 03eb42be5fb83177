//! Signals, queries, updates, cancellation and termination of a workflow's latest run, with
//! JSON arguments and results as `json/plain` payloads.

use std::time::{Duration, Instant};

use serde_json::Value;
use temporalio_client::{
    NamespacedClient as _, RpcOptions, UntypedQuery, UntypedSignal, UntypedUpdate, UntypedWorkflow,
    WorkflowCancelOptions, WorkflowExecuteUpdateOptions, WorkflowQueryOptions,
    WorkflowSignalOptions, WorkflowTerminateOptions,
    errors::{WorkflowInteractionError, WorkflowQueryError, WorkflowUpdateError},
    tonic::{Code, Status},
};

use temporalio_client::{grpc::WorkflowService, tonic::IntoRequest as _};
use temporalio_common::protos::temporal::api::{
    enums::v1::TaskQueueType, taskqueue::v1::TaskQueue,
    workflowservice::v1::DescribeTaskQueueRequest,
};

use temporalio_common::data_converters::RawValue;

use super::{Gateway, Keyed, failure, payload};
use crate::{error::ApiError, metrics::TemporalOperation, path::segment};

impl Gateway {
    /// Sends signal `name` with `argument`; a keyed signal's request id deduplicates retries,
    /// and its header records the key.
    pub(crate) async fn signal(
        &self,
        workflow_id: &str,
        name: &str,
        argument: Option<&Value>,
        keyed: Option<&Keyed>,
    ) -> Result<(), ApiError> {
        let call = async {
            let client = self.link.client()?;
            let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
            let args = payload::arguments(argument).map_err(ApiError::internal)?;
            let options = WorkflowSignalOptions::builder()
                .maybe_request_id(keyed.map(|k| k.id.clone()))
                .maybe_header(keyed.map(Keyed::header).transpose()?)
                .rpc_options(self.rpc_options())
                .build();
            let call = handle.signal(UntypedSignal::new(name), args, options);
            self.link
                .bounded(self.rpc_timeout, call)
                .await?
                .map_err(|e| interaction_error(e, workflow_id))
        };
        self.observed(TemporalOperation::Signal, call).await
    }

    /// Runs query `name` with `argument` and returns its JSON result.
    pub(crate) async fn query(
        &self,
        workflow_id: &str,
        name: &str,
        argument: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let call = async {
            let client = self.link.client()?;
            let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
            let args = payload::arguments(argument).map_err(ApiError::internal)?;
            let options = WorkflowQueryOptions::builder()
                .rpc_options(self.rpc_options())
                .build();
            let call = handle.query(UntypedQuery::new(name), args, options);
            match self.link.bounded(self.rpc_timeout, call).await? {
                Ok(raw) => payload::decode_result(raw).map_err(ApiError::internal),
                Err(WorkflowQueryError::NotFound(_)) => {
                    Err(ApiError::WorkflowNotFound(workflow_id.to_owned()))
                }
                Err(WorkflowQueryError::Rejected { status }) => Err(ApiError::QueryFailed(
                    format!("rejected in status {status:?}"),
                )),
                Err(WorkflowQueryError::Rpc(status)) => Err(match status.code() {
                    // QueryFailed: the worker had no handler, or the handler failed.
                    Code::InvalidArgument => ApiError::QueryFailed(status.message().to_owned()),
                    _ => rejected_or_unavailable(status),
                }),
                Err(other) => Err(ApiError::internal(other)),
            }
        };
        self.observed(TemporalOperation::Query, call).await
    }

    /// Runs update `name` with `argument` as `update_id` and waits up to `wait` for its result,
    /// or until the drain begins (a 504 either way: its result can be fetched later by its id). A
    /// keyed update's header records its key.
    pub(crate) async fn update(
        &self,
        workflow_id: &str,
        name: &str,
        argument: Option<&Value>,
        update_id: String,
        keyed: Option<&Keyed>,
        wait: Duration,
    ) -> Result<Value, ApiError> {
        // A zero wait would end before the update is even sent: give it one RPC's worth (the
        // round trip through a worker included).
        let wait = wait.max(self.rpc_timeout);
        let call = async {
            let client = self.link.client()?;
            let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
            let args = payload::arguments(argument).map_err(ApiError::internal)?;
            let options = WorkflowExecuteUpdateOptions::builder()
                .update_id(update_id.clone())
                .maybe_header(keyed.map(Keyed::header).transpose()?)
                .rpc_options(self.update_rpc_options(wait))
                .build();
            let call = handle.execute_update(UntypedUpdate::new(name), args, options);
            self.update_outcome(workflow_id, name, &update_id, wait, call)
                .await
        };
        self.observed(TemporalOperation::Update, call).await
    }

    /// The result of update `update_id` (named `name`) sent earlier to the latest run of
    /// `workflow_id`, waiting up to `wait` (at least a peek's worth) for it to complete.
    pub(crate) async fn update_result(
        &self,
        workflow_id: &str,
        name: &str,
        update_id: &str,
        wait: Duration,
    ) -> Result<Value, ApiError> {
        let wait = wait.max(self.rpc_timeout.min(Duration::from_secs(1)));
        let call = async {
            let client = self.link.client()?;
            let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
            let update = handle.get_update_handle(UntypedUpdate::new(name), update_id);
            let rpc_options = self.update_rpc_options(wait);
            let call = async move { update.get_result(rpc_options).await };
            match self
                .update_outcome(workflow_id, name, update_id, wait, call)
                .await
            {
                Err(ApiError::WorkflowNotFound(_)) => {
                    Err(ApiError::UpdateNotFound(update_id.to_owned()))
                }
                other => other,
            }
        };
        self.observed(TemporalOperation::UpdateResult, call).await
    }

    /// Each update RPC may take the whole wait and then some: the wait in [`update_outcome`]
    /// ends first, so running out of time reads as a timeout, never as an RPC failure.
    fn update_rpc_options(&self, wait: Duration) -> RpcOptions {
        RpcOptions::builder()
            .timeout(wait + self.rpc_timeout)
            .build()
    }

    /// What an update's `call` answers within `wait`: its JSON result, or why not. A drain ends
    /// the wait as if its time had run out (the same 504, whose advice finds the update later).
    async fn update_outcome(
        &self,
        workflow_id: &str,
        name: &str,
        update_id: &str,
        wait: Duration,
        call: impl Future<Output = Result<RawValue, WorkflowUpdateError>>,
    ) -> Result<Value, ApiError> {
        let started = Instant::now();
        let timed_out = |waited_for: Duration| ApiError::UpdateTimedOut {
            update_id: update_id.to_owned(),
            waited: waited(waited_for),
            result_path: format!(
                "/v1/workflows/{}/updates/{}/{}",
                segment(workflow_id),
                segment(name),
                segment(update_id),
            ),
        };
        let call = self.link.unless_down(call);
        let result = tokio::select! {
            biased;
            () = self.drain.started() => return Err(timed_out(started.elapsed())),
            result = tokio::time::timeout(wait, call) => match result {
                Err(_elapsed) => return Err(timed_out(wait)),
                Ok(result) => result?,
            },
        };
        match result {
            Ok(raw) => payload::decode_result(raw).map_err(ApiError::internal),
            Err(WorkflowUpdateError::Failed(failure)) => Err(ApiError::UpdateRejected(
                failure::error_info(&failure).message,
            )),
            Err(WorkflowUpdateError::NotFound(_)) => {
                Err(ApiError::WorkflowNotFound(workflow_id.to_owned()))
            }
            Err(WorkflowUpdateError::Rpc(status)) if status.code() == Code::DeadlineExceeded => {
                Err(timed_out(wait))
            }
            Err(WorkflowUpdateError::Rpc(status)) => Err(rejected_or_unavailable(status)),
            Err(other) => Err(ApiError::internal(other)),
        }
    }

    /// Asks the workflow to cancel itself.
    pub(crate) async fn cancel(&self, workflow_id: &str, reason: String) -> Result<(), ApiError> {
        let call = async {
            let client = self.link.client()?;
            let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
            let options = WorkflowCancelOptions::builder()
                .reason(reason)
                .rpc_options(self.rpc_options())
                .build();
            self.link
                .bounded(self.rpc_timeout, handle.cancel(options))
                .await?
                .map_err(|e| interaction_error(e, workflow_id))
        };
        self.observed(TemporalOperation::Cancel, call).await
    }

    /// Terminates the workflow at once: its latest run, or exactly the run `run_id`.
    pub(crate) async fn terminate(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
        reason: String,
    ) -> Result<(), ApiError> {
        let call = async {
            let handle = self.handle(workflow_id, run_id)?;
            let options = WorkflowTerminateOptions::builder()
                .reason(reason)
                .rpc_options(self.rpc_options())
                .build();
            self.link
                .bounded(self.rpc_timeout, handle.terminate(options))
                .await?
                .map_err(|e| interaction_error(e, workflow_id))
        };
        self.observed(TemporalOperation::Terminate, call).await
    }
}

impl Gateway {
    /// Whether any worker has polled `task_queue` for workflow tasks lately (Temporal forgets
    /// pollers a few minutes after their last poll).
    pub(crate) async fn is_served(&self, task_queue: &str) -> Result<bool, ApiError> {
        let call = async {
            let mut client = self.link.client()?;
            let request = DescribeTaskQueueRequest {
                namespace: client.namespace(),
                task_queue: Some(TaskQueue {
                    name: task_queue.to_owned(),
                    ..Default::default()
                }),
                task_queue_type: TaskQueueType::Workflow as i32,
                ..Default::default()
            };
            let mut request = request.into_request();
            request.set_timeout(self.rpc_timeout);
            let call =
                async move { WorkflowService::describe_task_queue(&mut client, request).await };
            match self.link.bounded(self.rpc_timeout, call).await? {
                Ok(response) => Ok(!response.into_inner().pollers.is_empty()),
                Err(status) => Err(failure::rpc_error(status)),
            }
        };
        self.observed(TemporalOperation::DescribeTaskQueue, call)
            .await
    }
}

/// How long an update was waited for, to the millisecond.
fn waited(wait: Duration) -> String {
    let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    humantime::format_duration(Duration::from_millis(millis)).to_string()
}

fn interaction_error(error: WorkflowInteractionError, workflow_id: &str) -> ApiError {
    match error {
        WorkflowInteractionError::Rpc(status) => rejected_or_unavailable(status),
        other => failure::interaction_error(other, workflow_id),
    }
}

/// A request Temporal refuses as such (bad argument, wrong state) is the client's problem;
/// anything else goes the usual way (503 when transient, else 500).
fn rejected_or_unavailable(status: Status) -> ApiError {
    match status.code() {
        Code::InvalidArgument | Code::FailedPrecondition => {
            ApiError::TemporalRejected(status.message().to_owned())
        }
        _ => failure::rpc_error(status),
    }
}
