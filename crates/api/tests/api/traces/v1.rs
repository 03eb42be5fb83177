//! `/v1` starts go through the raw start RPC (for idempotency); they carry the trace all the same.

use flowgate_testkit::{TestEnv, otlp::TraceReceiver};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{Running, assert_child, only, otlp_grpc, traceparent, tracer_data};

#[tokio::test]
async fn an_idempotent_v1_start_continues_the_clients_trace_into_the_workflow() {
    let env = TestEnv::builder()
        .without_worker()
        .without_api()
        .start()
        .await;
    let receiver = TraceReceiver::start().await;
    let api = Running::api(env.dir(), &env.temporal.address(), &otlp_grpc(&receiver))
        .await
        .ready()
        .await;
    let client_trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    let client_span = "10f067aa0ba902b8";

    let response = reqwest::Client::new()
        .post(format!("{}/v1/workflows/shopping", api.base))
        .header("traceparent", format!("00-{client_trace}-{client_span}-01"))
        .header("idempotency-key", "traced-key")
        .json(&json!({"input": {"items": [{"fruit": "APPLE", "amount": 1}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (trace_id, _) = traceparent(&response);
    assert_eq!(trace_id, client_trace);
    let started: Value = response.json().await.unwrap();
    api.stop().await;

    let spans = receiver.spans();
    let server = only(&spans, "flowgate-api", "POST /v1/workflows/{workflow_id}");
    assert_eq!(server.parent_span_id.as_deref(), Some(client_span));
    let start = only(&spans, "flowgate-api", "StartWorkflow:ShoppingWorkflow");
    assert_eq!(start.kind, "client");
    assert_child(start, server);
    let workflow_id = started["workflow_id"].as_str().unwrap();
    assert_eq!(start.attr("temporalWorkflowID"), Some(&json!(workflow_id)));

    let carrier = tracer_data(&env, workflow_id).await;
    assert_eq!(
        carrier["traceparent"],
        format!("00-{client_trace}-{}-01", start.span_id)
    );
}
