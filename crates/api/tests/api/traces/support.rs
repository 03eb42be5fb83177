//! What the trace tests share: the binaries as child processes, and reading what they sent.

use std::{collections::BTreeMap, path::Path, time::Duration};

use flowgate_testkit::{
    TestEnv, eventually,
    otlp::{ReceivedSpan, TraceReceiver},
    process::{Proc, Signal, free_port, workspace_binary},
};
use reqwest::{Response, StatusCode};

pub(super) const API_BIN: &str = env!("CARGO_BIN_EXE_flowgate-api");
const READY: Duration = Duration::from_secs(30);
pub(super) const EXIT: Duration = Duration::from_secs(30);
/// Only the flush at shutdown exports (OTEL_BSP_SCHEDULE_DELAY, milliseconds).
pub(super) const NO_SCHEDULED_EXPORT: (&str, &str) = ("OTEL_BSP_SCHEDULE_DELAY", "600000");

/// A running binary and its HTTP base URL.
pub(super) struct Running {
    proc: Proc,
    pub(super) base: String,
}

impl Running {
    pub(super) async fn api(dir: &Path, temporal: &str, envs: &[(&str, String)]) -> Self {
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

    pub(super) async fn worker(dir: &Path, temporal: &str, envs: &[(&str, String)]) -> Self {
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
        answers_ok(&format!("{base}{probe}")).await;
        Self { proc, base }
    }

    /// Waits until the API has reached Temporal (`GET /` says `temporal_connected`; `/readyz`
    /// answers 200 before that). For the API only: the worker's probe is ready once connected.
    pub(super) async fn ready(self) -> Self {
        flowgate_testkit::temporal_connected(&reqwest::Client::new(), &self.base, READY).await;
        self
    }

    /// SIGTERM, and a clean exit (after which its spans have been flushed).
    pub(super) async fn stop(mut self) -> String {
        self.proc.signal(Signal::SIGTERM);
        let status = self.proc.wait_exit(EXIT).await;
        assert!(status.success(), "{status:?}\n{}", self.proc.log_text());
        self.proc.log_text()
    }

    /// Names of the process's threads.
    pub(super) fn threads(&self) -> Vec<String> {
        let pid = self.proc.pid().expect("still running");
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("the process's threads")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect()
    }
}

/// Waits until `url` answers 200.
async fn answers_ok(url: &str) {
    let http = reqwest::Client::new();
    eventually(READY, &format!("{url} to answer 200"), || async {
        let response = http.get(url).send().await.ok()?;
        (response.status() == StatusCode::OK).then_some(())
    })
    .await;
}

pub(super) fn otlp_grpc(receiver: &TraceReceiver) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        (NO_SCHEDULED_EXPORT.0, NO_SCHEDULED_EXPORT.1.to_owned()),
    ]
}

/// `(trace id, span id)` of a `traceparent` header.
pub(super) fn traceparent(response: &Response) -> (String, String) {
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

pub(super) fn only<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.service_name == service && s.name == name)
        .collect();
    assert_eq!(found.len(), 1, "one {name} span from {service}: {found:#?}");
    found[0]
}

pub(super) fn assert_child(child: &ReceivedSpan, parent: &ReceivedSpan) {
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

/// The `_tracer-data` header of `workflow_id`'s start event.
pub(super) async fn tracer_data(env: &TestEnv, workflow_id: &str) -> BTreeMap<String, String> {
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
