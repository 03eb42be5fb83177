//! Direct Temporal operations for tests: what a client other than Flowgate might do.

use temporalio_client::tonic::IntoRequest as _;
use temporalio_client::{
    Client, UntypedWorkflow, WorkflowCancelOptions, WorkflowStartOptions, WorkflowTerminateOptions,
};
use temporalio_common::{
    data_converters::RawValue,
    protos::temporal::api::{
        command::v1::Command,
        common::v1::{Payload, Payloads},
    },
};

/// Starts `workflow_type` with a raw JSON argument, bypassing the API's validation.
pub async fn start_raw(
    client: &Client,
    workflow_type: &str,
    task_queue: &str,
    workflow_id: &str,
    input: &serde_json::Value,
) {
    let payload = json_payload(input);
    client
        .start_workflow(
            UntypedWorkflow::new(workflow_type),
            RawValue::new(vec![payload]),
            WorkflowStartOptions::new(task_queue, workflow_id).build(),
        )
        .await
        .expect("workflow starts");
}

/// Terminates a workflow.
pub async fn terminate(client: &Client, workflow_id: &str, reason: &str) {
    client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
        .terminate(
            WorkflowTerminateOptions::builder()
                .reason(reason.to_owned())
                .build(),
        )
        .await
        .expect("workflow terminates");
}

/// Requests cancellation of a workflow.
pub async fn cancel(client: &Client, workflow_id: &str) {
    client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
        .cancel(
            WorkflowCancelOptions::builder()
                .reason("test".to_owned())
                .build(),
        )
        .await
        .expect("cancel request accepted");
}

/// Number of activities of a workflow that a worker has picked up and not finished.
pub async fn started_activities(client: &Client, workflow_id: &str) -> usize {
    use temporalio_common::protos::temporal::api::enums::v1::PendingActivityState;
    let description = client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
        .describe(Default::default())
        .await
        .expect("describe");
    description
        .raw()
        .pending_activities
        .iter()
        .filter(|a| a.state() == PendingActivityState::Started)
        .count()
}

/// Number of activities of a workflow that have not completed (scheduled, started or retrying).
pub async fn pending_activities(client: &Client, workflow_id: &str) -> usize {
    client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
        .describe(Default::default())
        .await
        .expect("describe")
        .raw()
        .pending_activities
        .len()
}

/// A worker other than Flowgate's, answering workflow tasks on its own task queue one at a time
/// with the commands a test chooses: runs shaped exactly as the test needs, such as a chain of
/// continue-as-new, without registering a workflow anywhere.
pub struct ScriptedWorker {
    client: Client,
    task_queue: String,
}

impl ScriptedWorker {
    /// A worker polling `task_queue`.
    pub fn new(client: &Client, task_queue: &str) -> Self {
        Self {
            client: client.clone(),
            task_queue: task_queue.to_owned(),
        }
    }

    /// Takes the next workflow task on its queue (Temporal holds the poll until there is one) and
    /// completes it with `commands`; returns the run id the task belonged to.
    pub async fn answer(&self, commands: Vec<Command>) -> String {
        use temporalio_client::{NamespacedClient as _, grpc::WorkflowService};
        use temporalio_common::protos::temporal::api::{
            taskqueue::v1::TaskQueue,
            workflowservice::v1::{
                PollWorkflowTaskQueueRequest, RespondWorkflowTaskCompletedRequest,
            },
        };
        let mut client = self.client.clone();
        let namespace = client.namespace();
        let task = WorkflowService::poll_workflow_task_queue(
            &mut client,
            PollWorkflowTaskQueueRequest {
                namespace: namespace.clone(),
                task_queue: Some(TaskQueue {
                    name: self.task_queue.clone(),
                    ..Default::default()
                }),
                identity: "scripted-worker".to_owned(),
                ..Default::default()
            }
            .into_request(),
        )
        .await
        .expect("a workflow task is polled")
        .into_inner();
        let run_id = task
            .workflow_execution
            .as_ref()
            .map(|e| e.run_id.clone())
            .expect("a workflow task names its run");
        WorkflowService::respond_workflow_task_completed(
            &mut client,
            RespondWorkflowTaskCompletedRequest {
                namespace,
                task_token: task.task_token,
                commands,
                identity: "scripted-worker".to_owned(),
                ..Default::default()
            }
            .into_request(),
        )
        .await
        .expect("the workflow task completes");
        run_id
    }

    /// Continue as new: a new run of `workflow_type` on this worker's queue, with `input`.
    pub fn continue_as_new(&self, workflow_type: &str, input: &serde_json::Value) -> Command {
        use temporalio_common::protos::temporal::api::{
            command::v1::{ContinueAsNewWorkflowExecutionCommandAttributes, command::Attributes},
            common::v1::WorkflowType,
            enums::v1::CommandType,
            taskqueue::v1::TaskQueue,
        };
        Command {
            command_type: CommandType::ContinueAsNewWorkflowExecution as i32,
            attributes: Some(Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(
                ContinueAsNewWorkflowExecutionCommandAttributes {
                    workflow_type: Some(WorkflowType {
                        name: workflow_type.to_owned(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: self.task_queue.clone(),
                        ..Default::default()
                    }),
                    input: Some(Payloads {
                        payloads: vec![json_payload(input)],
                    }),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    /// Complete the run with `result`.
    pub fn complete(&self, result: &serde_json::Value) -> Command {
        use temporalio_common::protos::temporal::api::{
            command::v1::{CompleteWorkflowExecutionCommandAttributes, command::Attributes},
            enums::v1::CommandType,
        };
        Command {
            command_type: CommandType::CompleteWorkflowExecution as i32,
            attributes: Some(Attributes::CompleteWorkflowExecutionCommandAttributes(
                CompleteWorkflowExecutionCommandAttributes {
                    result: Some(Payloads {
                        payloads: vec![json_payload(result)],
                    }),
                },
            )),
            ..Default::default()
        }
    }
}

/// `value` as a `json/plain` payload.
fn json_payload(value: &serde_json::Value) -> Payload {
    Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(value).expect("JSON"),
        ..Default::default()
    }
}
