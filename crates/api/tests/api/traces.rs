//! OpenTelemetry traces, end to end: the real `flowgate-api` and `flowgate-worker` binaries, each
//! its own process with its own `service.name`, export to an OTLP receiver inside this test.
//!
//! Both run as child processes because telemetry is process-global (one subscriber, one tracer
//! provider): an in-process API or worker would export on behalf of every test of this binary.
//! The worker binary is the one `cargo test --workspace` builds next to the API's.
//! The batch processor's schedule is set to ten minutes, so spans only arrive through the flush
//! at shutdown, which is what these tests wait for.

use std::{collections::BTreeMap, path::Path, time::Duration};

use flowgate_testkit::{
    TestEnv, eventually,
    otlp::{ReceivedSpan, TraceReceiver},
    process::{Proc, Signal, free_port, workspace_binary},
    shopping_body,
};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const API_BIN: &str = env!("CARGO_BIN_EXE_flowgate-api");
const READY: Duration = Duration::from_secs(30);
const EXIT: Duration = Duration::from_secs(30);
/// Only the flush at shutdown exports (OTEL_BSP_SCHEDULE_DELAY, milliseconds).
const NO_SCHEDULED_EXPORT: (&str, &str) = ("OTEL_BSP_SCHEDULE_DELAY", "600000");

/// A running binary and its HTTP base URL.
struct Running {
    proc: Proc,
    base: String,
}

impl Running {
    async fn api(dir: &Path, temporal: &str, envs: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut all = vec![
            ("TEMPORAL_ADDRESS", temporal.to_owned()),
            ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_API__PORT", port.to_string()),
        ];
        all.extend(envs.iter().cloned());
        let proc = Proc::spawn(Path::new(API_BIN), &[], &all, dir.join("api.log"));
        Self::started(proc, port, "/livez").await
    }

    async fn worker(dir: &Path, temporal: &str, envs: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut all = vec![
            ("TEMPORAL_ADDRESS", temporal.to_owned()),
            ("FLOWGATE_WORKER__HEALTH_HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_WORKER__HEALTH_PORT", port.to_string()),
        ];
        all.extend(envs.iter().cloned());
        let bin = workspace_binary(API_BIN, "flowgate-worker");
        let proc = Proc::spawn(&bin, &[], &all, dir.join("worker.log"));
        Self::started(proc, port, "/readyz").await
    }

    async fn started(proc: Proc, port: u16, probe: &str) -> Self {
        let base = format!("http://127.0.0.1:{port}");
        let url = format!("{base}{probe}");
        let http = reqwest::Client::new();
        eventually(READY, &format!("{url} to answer 200"), || async {
            let response = http.get(&url).send().await.ok()?;
            (response.status() == StatusCode::OK).then_some(())
        })
        .await;
        Self { proc, base }
    }

    /// Waits until `/readyz` answers 200 (Temporal reached).
    async fn ready(self) -> Self {
        let url = format!("{}/readyz", self.base);
        let http = reqwest::Client::new();
        eventually(READY, &format!("{url} to answer 200"), || async {
            let response = http.get(&url).send().await.ok()?;
            (response.status() == StatusCode::OK).then_some(())
        })
        .await;
        self
    }

    /// SIGTERM, and a clean exit (after which its spans have been flushed).
    async fn stop(mut self) -> String {
        self.proc.signal(Signal::SIGTERM);
        let status = self.proc.wait_exit(EXIT).await;
        assert!(status.success(), "{status:?}\n{}", self.proc.log_text());
        self.proc.log_text()
    }

    /// Names of the process's threads.
    fn threads(&self) -> Vec<String> {
        let pid = self.proc.pid().expect("still running");
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("the process's threads")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect()
    }
}

fn otlp_grpc(receiver: &TraceReceiver) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        (NO_SCHEDULED_EXPORT.0, NO_SCHEDULED_EXPORT.1.to_owned()),
    ]
}

/// `(trace id, span id)` of a `traceparent` header.
fn traceparent(response: &Response) -> (String, String) {
    let value = response
        .headers()
        .get("traceparent")
        .expect("a traceparent header")
        .to_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00", "{value}");
    (parts[1].to_owned(), parts[2].to_owned())
}

fn only<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.service_name == service && s.name == name)
        .collect();
    assert_eq!(found.len(), 1, "one {name} span from {service}: {found:#?}");
    found[0]
}

fn assert_child(child: &ReceivedSpan, parent: &ReceivedSpan) {
    assert_eq!(
        child.trace_id, parent.trace_id,
        "{} joins the trace",
        child.name
    );
    assert_eq!(
        child.parent_span_id.as_deref(),
        Some(parent.span_id.as_str()),
        "{} is a child of {}",
        child.name,
        parent.name
    );
}

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

/// The `_tracer-data` header of `workflow_id`'s start event.
async fn tracer_data(env: &TestEnv, workflow_id: &str) -> BTreeMap<String, String> {
    use futures::TryStreamExt as _;
    use temporalio_client::{UntypedWorkflow, WorkflowFetchHistoryOptions};
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

    let client = env.temporal_client().await;
    let events: Vec<_> = client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .try_collect()
        .await
        .expect("the workflow's history");
    let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) =
        events.first().and_then(|e| e.attributes.clone())
    else {
        panic!("the history starts with the start event: {events:?}");
    };
    let payload = &started.header.expect("a header").fields["_tracer-data"];
    serde_json::from_slice(&payload.data).expect("a JSON string map")
}

#[tokio::test]
async fn the_trace_id_is_in_problem_bodies_and_in_every_log_line_of_the_request() {
    // Configured by the file's `[otel]` keys, over OTLP/HTTP; a standard variable adds to it.
    let dir = tempfile::tempdir().unwrap();
    let receiver = TraceReceiver::start().await;
    let config = dir.path().join("flowgate.toml");
    std::fs::write(
        &config,
        format!(
            "[otel]\nendpoint = \"{}\"\nprotocol = \"http/protobuf\"\n\
             service_name = \"api-from-file\"\n",
            receiver.http_endpoint()
        ),
    )
    .unwrap();
    let nowhere = format!("127.0.0.1:{}", free_port());
    let envs = [
        ("FLOWGATE_CONFIG", config.display().to_string()),
        ("FLOWGATE_LOG__FORMAT", "json".to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=test".to_owned(),
        ),
        (NO_SCHEDULED_EXPORT.0, NO_SCHEDULED_EXPORT.1.to_owned()),
    ];
    let api = Running::api(dir.path(), &nowhere, &envs).await;
    let http = reqwest::Client::new();

    let response = http
        .post(format!("{}/workflows/shopping", api.base))
        .header("x-request-id", "trace-me")
        .json(&json!({"items": []}))
        .send()
        .await
        .unwrap();
    let (trace_id, _) = traceparent(&response);
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["request_id"], "trace-me", "{problem}");
    assert_eq!(problem["trace_id"], trace_id.as_str(), "{problem}");

    let unrouted = http
        .get(format!("{}/no/such/route", api.base))
        .send()
        .await
        .unwrap();
    let (unrouted_trace, _) = traceparent(&unrouted);
    let problem: Value = unrouted.json().await.unwrap();
    assert_eq!(problem["trace_id"], unrouted_trace.as_str(), "{problem}");

    let log = api.stop().await;
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["span"]["request_id"] == "trace-me")
        .collect();
    assert!(!lines.is_empty(), "the request is logged: {log}");
    for line in &lines {
        assert_eq!(line["span"]["trace_id"], trace_id.as_str(), "{line}");
    }

    let spans = receiver.spans();
    let server = spans
        .iter()
        .find(|s| s.trace_id == trace_id)
        .expect("the request's span, over OTLP/HTTP");
    assert_eq!(server.name, "POST /workflows/shopping");
    assert_eq!(server.service_name, "api-from-file");
    assert_eq!(
        server.resource.get("deployment.environment"),
        Some(&json!("test"))
    );
    assert_eq!(server.attr("http.response.status_code"), Some(&json!(422)));
    assert_eq!(
        server.status_code, 0,
        "a 4xx is the client's error, not the server's"
    );
    let unrouted = spans
        .iter()
        .find(|s| s.trace_id == unrouted_trace)
        .expect("the unrouted request's span");
    assert_eq!(
        unrouted.name, "GET",
        "no route: the method alone, never the raw path"
    );
    assert_eq!(unrouted.attr("http.route"), None);
    assert_eq!(unrouted.attr("url.path"), Some(&json!("/no/such/route")));
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported_and_no_exporter_runs() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = TraceReceiver::start().await;
    let nowhere = format!("127.0.0.1:{}", free_port());
    let http = reqwest::Client::new();
    let client_traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    // Everything but an endpoint.
    let envs = [
        ("FLOWGATE_LOG__FORMAT", "json".to_owned()),
        ("OTEL_SERVICE_NAME", "unused".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_TRACES_SAMPLER", "always_on".to_owned()),
    ];
    let api = Running::api(dir.path(), &nowhere, &envs).await;
    let response = http
        .get(format!("{}/no/such/route", api.base))
        .header("traceparent", client_traceparent)
        .header("x-request-id", "untraced")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().get("traceparent").is_none());
    let problem: Value = response.json().await.unwrap();
    assert!(problem.get("trace_id").is_none(), "{problem}");
    let threads = api.threads();
    assert!(
        !threads.iter().any(|t| t.starts_with("OpenTelemetry")),
        "no exporter thread: {threads:?}"
    );
    let log = api.stop().await;
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["span"]["request_id"] == "untraced")
        .unwrap_or_else(|| panic!("the request is logged: {log}"));
    assert!(line["span"].get("trace_id").is_none(), "{line}");

    // An endpoint, but exporting turned off the standard way: the receiver gets nothing.
    let mut off = otlp_grpc(&receiver);
    off.push(("OTEL_TRACES_EXPORTER", "none".to_owned()));
    let api = Running::api(dir.path(), &nowhere, &off).await;
    let response = http
        .get(format!("{}/livez", api.base))
        .header("traceparent", client_traceparent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("traceparent").is_none());
    api.stop().await;
    assert!(receiver.spans().is_empty(), "{:#?}", receiver.spans());
}

#[tokio::test]
async fn unusable_trace_settings_stop_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4317".to_owned(),
        ),
        ("OTEL_TRACES_SAMPLER", "sometimes".to_owned()),
    ];
    let mut api = Proc::spawn(Path::new(API_BIN), &[], &envs, dir.path().join("api.log"));
    let status = api.wait_exit(EXIT).await;
    let output = api.log_text();
    assert_eq!(status.code(), Some(2), "{output}");
    assert_eq!(output.trim().lines().count(), 1, "one line: {output}");
    assert!(output.contains("OTEL_TRACES_SAMPLER"), "{output}");
}
