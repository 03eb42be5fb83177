//! What the configuration turns on and off: export from the file's keys, no export at all
//! without an endpoint, and start-up refused on unusable settings.

use std::path::Path;

use flowgate_testkit::{
    otlp::TraceReceiver,
    process::{Proc, free_port},
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{API_BIN, EXIT, NO_SCHEDULED_EXPORT, Running, otlp_grpc, traceparent};

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
