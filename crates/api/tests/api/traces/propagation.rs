//! One trace from the HTTP request to every activity, across both processes, continuing the
//! client's context.

use std::collections::BTreeMap;

use flowgate_testkit::{
    TestEnv,
    otlp::{ReceivedSpan, TraceReceiver},
    shopping_body,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{Running, assert_child, only, otlp_grpc, traceparent, tracer_data};

#[tokio::test]
async fn one_request_is_one_trace_from_the_http_span_to_every_activity() {
    let env = TestEnv::builder()
        .without_worker()
        .without_api()
        .start()
        .await;
    let receiver = TraceReceiver::start().await;
    let temporal = env.temporal.address();
    let worker = Running::worker(env.dir(), &temporal, &otlp_grpc(&receiver)).await;
    let api = Running::api(env.dir(), &temporal, &otlp_grpc(&receiver))
        .await
        .ready()
        .await;

    let mut body = shopping_body(&[("APPLE", 5), ("BANANA", 3)]);
    body["workflow_id"] = json!("traced-shopping");
    let response = reqwest::Client::new()
        .post(format!("{}/workflows/shopping", api.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (trace_id, server_span_id) = traceparent(&response);
    let out: Value = response.json().await.unwrap();
    assert_eq!(out["status"], "completed", "{out}");
    assert!(
        api.threads().iter().any(|t| t.starts_with("OpenTelemetry")),
        "an exporter thread runs when an endpoint is configured: {:?}",
        api.threads()
    );

    // Spans are only exported by the flush at shutdown: stopping both must deliver them all.
    api.stop().await;
    worker.stop().await;
    let spans: Vec<ReceivedSpan> = receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == trace_id)
        .collect();

    let server = only(&spans, "flowgate-api", "POST /workflows/shopping");
    assert_eq!(server.kind, "server");
    assert_eq!(
        server.span_id, server_span_id,
        "the response names this span"
    );
    assert_eq!(
        server.parent_span_id, None,
        "no client context: a root span"
    );
    let expected: BTreeMap<&str, Value> = BTreeMap::from([
        ("http.request.method", json!("POST")),
        ("http.route", json!("/workflows/shopping")),
        ("http.response.status_code", json!(200)),
        ("url.path", json!("/workflows/shopping")),
        ("url.scheme", json!("http")),
    ]);
    for (key, value) in &expected {
        assert_eq!(server.attr(key), Some(value), "{key}: {server:#?}");
    }
    assert_eq!(server.status_code, 0, "a 200 leaves the status unset");

    let start = only(&spans, "flowgate-api", "StartWorkflow:ShoppingWorkflow");
    assert_eq!(start.kind, "client");
    assert_eq!(
        start.attr("temporalWorkflowID"),
        Some(&json!("traced-shopping"))
    );
    assert_child(start, server);

    let run = only(&spans, "flowgate-worker", "RunWorkflow:ShoppingWorkflow");
    assert_eq!(run.kind, "server");
    assert_child(run, start);

    for activity in ["order_apples", "order_bananas"] {
        let scheduled = only(
            &spans,
            "flowgate-worker",
            &format!("StartActivity:{activity}"),
        );
        assert_eq!(scheduled.kind, "client");
        assert_child(scheduled, run);
        let ran = only(
            &spans,
            "flowgate-worker",
            &format!("RunActivity:{activity}"),
        );
        assert_eq!(ran.kind, "server");
        assert_eq!(ran.attr("temporalActivityType"), Some(&json!(activity)));
        assert_child(ran, scheduled);
    }
    assert_eq!(spans.len(), 7, "nothing else in the trace: {spans:#?}");

    // The worker exports the Temporal plugin's spans only: the SDK's own `tracing` spans
    // (polls, activations) are kept out of the bridge.
    let everything = receiver.spans();
    let foreign: Vec<&ReceivedSpan> = everything
        .iter()
        .filter(|s| s.service_name == "flowgate-worker" && s.scope != "temporalio-sdk")
        .collect();
    assert!(foreign.is_empty(), "{foreign:#?}");
}

#[tokio::test]
async fn a_client_traceparent_is_continued_not_replaced() {
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
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";

    let response = reqwest::Client::new()
        .post(format!("{}/workflows/shopping/async", api.base))
        .header("traceparent", format!("00-{client_trace}-{client_span}-01"))
        .header("baggage", "tenant=acme")
        .json(&shopping_body(&[("CHERRY", 2)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (trace_id, span_id) = traceparent(&response);
    assert_eq!(trace_id, client_trace, "the client's trace goes on");
    assert_ne!(
        span_id, client_span,
        "the response names the server's own span"
    );
    let started: Value = response.json().await.unwrap();
    api.stop().await;

    let spans = receiver.spans();
    let server = only(&spans, "flowgate-api", "POST /workflows/shopping/async");
    assert_eq!(server.trace_id, client_trace);
    assert_eq!(server.parent_span_id.as_deref(), Some(client_span));
    assert_eq!(server.span_id, span_id);
    let start = only(&spans, "flowgate-api", "StartWorkflow:ShoppingWorkflow");
    assert_child(start, server);

    // What any Temporal SDK's worker reads: the start span's context and the client's baggage
    // in the workflow's `_tracer-data` header, as a JSON string map.
    let workflow_id = started["workflow_id"].as_str().unwrap();
    let carrier = tracer_data(&env, workflow_id).await;
    assert_eq!(
        carrier["traceparent"],
        format!("00-{client_trace}-{}-01", start.span_id)
    );
    assert_eq!(carrier["baggage"], "tenant=acme");
}
