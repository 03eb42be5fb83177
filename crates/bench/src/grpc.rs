//! The floor: the same starts sent straight to Temporal over gRPC with the Temporal Rust SDK's
//! client, from this process (one connection, `concurrency` tasks).

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use temporalio_client::{Client, NamespacedClient, grpc::WorkflowService, tonic::IntoRequest};
use temporalio_common::protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowType},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::StartWorkflowExecutionRequest,
};

use crate::scenario::Latencies;

/// A connected client.
pub(crate) async fn connect(address: &str) -> anyhow::Result<Client> {
    let env: HashMap<String, String> = [("TEMPORAL_ADDRESS".to_owned(), address.to_owned())].into();
    let settings = flowgate_config::load_from(None, &env)?;
    let resolved = flowgate_temporal::resolve_with_env(&settings.temporal, Some(&env))?;
    Client::connect(resolved.connection, resolved.client)
        .await
        .context("cannot connect to Temporal")
}

/// Starts `workflow_type` workflows with `input` on `task_queue` from `concurrency` tasks for
/// `duration`; every start gets a fresh id. Returns the latencies and the failures.
pub(crate) async fn start_load(
    client: &Client,
    workflow_type: &str,
    task_queue: &str,
    input: &serde_json::Value,
    concurrency: u32,
    duration: Duration,
    tag: &str,
) -> anyhow::Result<(Latencies, u64)> {
    let data = serde_json::to_vec(input)?;
    let end = Instant::now() + duration;
    let tasks = (0..concurrency).map(|task| {
        let mut client = client.clone();
        let data = data.clone();
        let tag = tag.to_owned();
        let workflow_type = workflow_type.to_owned();
        let task_queue = task_queue.to_owned();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < end {
                n += 1;
                let request = StartWorkflowExecutionRequest {
                    namespace: client.namespace(),
                    identity: client.identity(),
                    workflow_id: format!("{tag}-{task}-{n}"),
                    workflow_type: Some(WorkflowType {
                        name: workflow_type.clone(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: task_queue.clone(),
                        ..Default::default()
                    }),
                    input: Some(Payloads {
                        payloads: vec![Payload {
                            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
                            data: data.clone(),
                            ..Default::default()
                        }],
                    }),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    ..Default::default()
                };
                let mut request = request.into_request();
                request.set_timeout(Duration::from_secs(10));
                let began = Instant::now();
                match WorkflowService::start_workflow_execution(&mut client, request).await {
                    Ok(_) => latencies.push(began.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        })
    });
    let mut all = Vec::new();
    let mut errors = 0;
    for result in futures::future::join_all(tasks).await {
        let (latencies, failed) = result?;
        all.extend(latencies);
        errors += failed;
    }
    Ok((Latencies::new(all), errors))
}
