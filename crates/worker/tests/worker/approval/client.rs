//! The workflow's messages sent by name with `json/plain` payloads, as the API sends them.

use std::time::Duration;

use flowgate_testkit::{TestEnv, eventually, temporal};
use flowgate_workflows::approval::WORKFLOW_TYPE;
use serde_json::{Value, json};
use temporalio_client::{
    Client, UntypedQuery, UntypedSignal, UntypedUpdate, UntypedWorkflow,
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowHandle, WorkflowQueryOptions,
    WorkflowSignalOptions,
    errors::{WorkflowGetResultError, WorkflowUpdateError},
};
use temporalio_common::{
    data_converters::RawValue,
    protos::temporal::api::{common::v1::Payload, enums::v1::EventType},
};

pub(super) type Handle = WorkflowHandle<Client, UntypedWorkflow>;

/// A standard `json/plain` payload, as the API builds it.
pub(super) fn json_payload(value: &Value) -> RawValue {
    RawValue::new(vec![Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(value).expect("JSON"),
        ..Default::default()
    }])
}

fn decode(raw: RawValue) -> Value {
    let payload = raw.payloads.into_iter().next().expect("one payload");
    assert_eq!(payload.metadata["encoding"], b"json/plain");
    serde_json::from_slice(&payload.data).expect("JSON")
}

/// Starts the workflow by type name with a raw JSON input, as the API does.
pub(super) async fn start(env: &TestEnv, client: &Client, id: &str, input: Value) -> Handle {
    let queue = &env.settings.worker.task_queue;
    temporal::start_raw(client, WORKFLOW_TYPE, queue, id, &input).await;
    client.get_workflow_handle::<UntypedWorkflow>(id)
}

pub(super) async fn signal(handle: &Handle, name: &str, argument: Value) {
    handle
        .signal(
            UntypedSignal::new(name),
            json_payload(&argument),
            WorkflowSignalOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("signal {name} delivered: {e}"));
}

/// Query `status` with `argument` as its payloads (none, or a JSON `null`).
pub(super) async fn status_with(handle: &Handle, argument: RawValue) -> Result<Value, String> {
    handle
        .query(
            UntypedQuery::new("status"),
            argument,
            WorkflowQueryOptions::default(),
        )
        .await
        .map(decode)
        .map_err(|e| e.to_string())
}

pub(super) async fn status(handle: &Handle) -> Value {
    status_with(handle, RawValue::new(Vec::new()))
        .await
        .expect("status answered")
}

/// The status once the worker answers: the first query waits for the first workflow task.
pub(super) async fn first_status(handle: &Handle) -> Value {
    eventually(Duration::from_secs(10), "the first status", || async {
        status_with(handle, RawValue::new(Vec::new())).await.ok()
    })
    .await
}

pub(super) async fn add_note(handle: &Handle, text: &str) -> Result<Value, WorkflowUpdateError> {
    handle
        .execute_update(
            UntypedUpdate::new("add_note"),
            json_payload(&json!({ "text": text })),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .map(decode)
}

/// Why the update was refused.
pub(super) fn refusal(outcome: Result<Value, WorkflowUpdateError>) -> String {
    match outcome {
        Err(WorkflowUpdateError::Failed(failure)) => failure.message,
        other => panic!("expected the update to be refused, got {other:?}"),
    }
}

/// How the workflow ended; `get_result` has no deadline of its own.
pub(super) async fn outcome(handle: &Handle) -> Result<Value, WorkflowGetResultError> {
    tokio::time::timeout(
        Duration::from_secs(30),
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("the workflow ends within 30 s")
    .map(decode)
}

/// The result of a workflow that succeeded.
pub(super) async fn result(handle: &Handle) -> Value {
    outcome(handle).await.expect("the workflow succeeds")
}

/// How many events of `kind` the workflow's history holds.
pub(super) async fn events(handle: &Handle, kind: EventType) -> usize {
    let history = handle
        .fetch_history(Default::default())
        .into_events()
        .await
        .expect("history");
    history.iter().filter(|e| e.event_type() == kind).count()
}
