//! Direct Temporal operations for tests: what a client other than Flowgate might do.

use temporalio_client::{
    Client, UntypedWorkflow, WorkflowCancelOptions, WorkflowStartOptions, WorkflowTerminateOptions,
};
use temporalio_common::{data_converters::RawValue, protos::temporal::api::common::v1::Payload};

/// Starts `workflow_type` with a raw JSON argument, bypassing the API's validation.
pub async fn start_raw(
    client: &Client,
    workflow_type: &str,
    task_queue: &str,
    workflow_id: &str,
    input: &serde_json::Value,
) {
    let payload = Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(input).expect("JSON"),
        ..Default::default()
    };
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
