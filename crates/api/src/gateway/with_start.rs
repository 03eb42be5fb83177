//! Update-with-start: Temporal's `ExecuteMultiOperation`, which starts a workflow (or finds the
//! one running under its id) and runs an update on it, atomically.

use std::time::Instant;

use opentelemetry::{Context, trace::FutureExt as _};
use temporalio_client::{Client, grpc::WorkflowService, tonic::IntoRequest as _};
use temporalio_common::{
    data_converters::RawValue,
    protos::temporal::api::{
        common::v1::{Payloads, WorkflowExecution},
        enums::v1::UpdateWorkflowExecutionLifecycleStage,
        update::v1::{Input, Meta, Request, WaitPolicy, outcome},
        workflowservice::v1::{
            ExecuteMultiOperationRequest, StartWorkflowExecutionRequest,
            UpdateWorkflowExecutionRequest, execute_multi_operation_request::Operation,
            execute_multi_operation_request::operation::Operation as OperationRequest,
            execute_multi_operation_response::response::Response as OperationResponse,
        },
    },
};

use super::{
    Gateway, failure, payload,
    start::{StartSpec, StartedRun, WithStart, end_span, start_error},
};
use crate::error::ApiError;

impl Gateway {
    /// Starts `spec` (sent as `start`) with its update, and waits up to the update's wait for
    /// the update's result. The run started (or found) is reported even when the update fails
    /// or outlasts its wait: the error is then the update's.
    pub(super) async fn update_with_start(
        &self,
        mut client: Client,
        spec: &StartSpec,
        start: StartWorkflowExecutionRequest,
        trace: Context,
    ) -> Result<StartedRun, ApiError> {
        let Some(WithStart::Update {
            name,
            input,
            update_id,
            wait,
        }) = &spec.with
        else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "not an update-with-start"
            )));
        };
        // The update must reach the workflow: give it at least one RPC's worth of time.
        let wait = (*wait).max(self.rpc_timeout);
        let deadline = Instant::now() + wait;
        let args = payload::arguments(input.as_ref()).map_err(ApiError::internal)?;
        let update = UpdateWorkflowExecutionRequest {
            namespace: start.namespace.clone(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: spec.workflow_id.clone(),
                run_id: String::new(),
            }),
            first_execution_run_id: String::new(),
            wait_policy: Some(WaitPolicy {
                lifecycle_stage: UpdateWorkflowExecutionLifecycleStage::Completed as i32,
            }),
            request: Some(Request {
                meta: Some(Meta {
                    update_id: update_id.clone(),
                    identity: start.identity.clone(),
                }),
                input: Some(Input {
                    header: start.header.clone(),
                    name: name.clone(),
                    args: Some(Payloads {
                        payloads: args.payloads,
                    }),
                }),
                ..Default::default()
            }),
        };
        let request = ExecuteMultiOperationRequest {
            namespace: start.namespace.clone(),
            operations: vec![
                Operation {
                    operation: Some(OperationRequest::StartWorkflow(start)),
                },
                Operation {
                    operation: Some(OperationRequest::UpdateWorkflow(update)),
                },
            ],
            resource_id: spec.workflow_id.clone(),
        };
        let timed_out = || ApiError::UpdateTimedOut {
            update_id: update_id.clone(),
            waited: humantime::format_duration(wait).to_string(),
            result_path: format!(
                "/v1/workflows/{}/updates/{}/{}",
                crate::path::segment(&spec.workflow_id),
                crate::path::segment(name),
                crate::path::segment(update_id),
            ),
        };
        // Until the update is at least accepted the request is sent again, as Temporal asks.
        let (started, update) = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut rpc = request.clone().into_request();
            rpc.set_timeout(remaining + self.rpc_timeout);
            let call = WorkflowService::execute_multi_operation(&mut client, rpc)
                .with_context(trace.clone());
            let answer = tokio::select! {
                biased;
                () = self.drain.started() => {
                    end_span(&trace, None);
                    return Err(timed_out());
                }
                answer = self.link.bounded(remaining + self.rpc_timeout, call) => answer,
            };
            let response = match answer {
                Ok(Ok(response)) => response.into_inner(),
                Ok(Err(status)) => {
                    end_span(
                        &trace,
                        Some(format!("{:?}: {}", status.code(), status.message())),
                    );
                    return Err(start_error(spec, status));
                }
                Err(unavailable) => {
                    end_span(&trace, Some(unavailable.to_string()));
                    return Err(unavailable.into());
                }
            };
            let mut responses = response.responses.into_iter().map(|r| r.response);
            let (
                Some(Some(OperationResponse::StartWorkflow(started))),
                Some(Some(OperationResponse::UpdateWorkflow(update))),
            ) = (responses.next(), responses.next())
            else {
                end_span(&trace, Some("unexpected answer".to_owned()));
                return Err(ApiError::internal(anyhow::anyhow!(
                    "ExecuteMultiOperation did not answer a start and an update"
                )));
            };
            if update.stage >= UpdateWorkflowExecutionLifecycleStage::Accepted as i32
                || Instant::now() >= deadline
            {
                break (started, update);
            }
        };
        end_span(&trace, None);
        let run_id = update
            .update_ref
            .as_ref()
            .and_then(|r| r.workflow_execution.as_ref())
            .map(|e| e.run_id.clone())
            .filter(|r| !r.is_empty())
            .unwrap_or(started.run_id);
        let result = match update.outcome.and_then(|o| o.value) {
            Some(outcome::Value::Success(values)) => {
                payload::decode_result(RawValue::new(values.payloads)).map_err(ApiError::internal)
            }
            Some(outcome::Value::Failure(f)) => {
                Err(ApiError::UpdateRejected(failure::error_info(&f).message))
            }
            // Accepted, not completed yet: wait for it with what is left of the wait.
            None if update.stage >= UpdateWorkflowExecutionLifecycleStage::Accepted as i32 => {
                let remaining = deadline.saturating_duration_since(Instant::now());
                Box::pin(self.update_result(&spec.workflow_id, name, update_id, remaining)).await
            }
            None => Err(timed_out()),
        };
        Ok(StartedRun {
            run_id,
            started: started.started,
            update: Some(result),
        })
    }
}
