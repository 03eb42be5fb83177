//! Integration tests of the worker against a real Temporal dev server: probes, connecting with
//! back-off, draining on SIGTERM — with the real `flowgate-worker` binary — and the workflows it
//! serves.

mod approval;
mod faults;
mod metrics;

use std::{path::Path, time::Duration};

use flowgate_devserver::{DevServer, DevServerOptions, temporal_cli};
use flowgate_testkit::{
    TestEnv, eventually,
    process::{Proc, Signal, free_port},
    shopping_body, temporal,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_flowgate-worker");

struct Probe {
    http: reqwest::Client,
    base: String,
}

impl Probe {
    fn new(port: u16) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn status(&self, path: &str) -> Option<StatusCode> {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()
            .map(|r| r.status())
    }

    async fn until(&self, path: &str, status: StatusCode, timeout: Duration) {
        eventually(timeout, &format!("{path} to answer {status}"), || async {
            (self.status(path).await == Some(status)).then_some(())
        })
        .await;
    }
}

fn worker_envs(
    temporal: &str,
    health_port: u16,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut envs = vec![
        ("TEMPORAL_ADDRESS", temporal.to_owned()),
        ("FLOWGATE_WORKER__HEALTH_HOST", "127.0.0.1".to_owned()),
        ("FLOWGATE_WORKER__HEALTH_PORT", health_port.to_string()),
    ];
    envs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    envs
}

#[tokio::test]
async fn the_probe_endpoint_answers_livez_and_readyz_and_nothing_else() {
    let env = TestEnv::start().await;
    let probe = Probe {
        http: reqwest::Client::new(),
        base: format!("http://{}", env.worker_health()),
    };
    probe
        .until("/readyz", StatusCode::OK, Duration::from_secs(10))
        .await;
    let live: Value = probe
        .http
        .get(format!("{}/livez", probe.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(live, json!({"status": "ok"}));
    let missing = probe
        .http
        .get(format!("{}/metrics-or-whatever", probe.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn the_worker_waits_for_temporal_and_serves_once_it_appears() {
    // Temporal is not there yet: the worker must keep retrying, not crash.
    let dir = tempfile::tempdir().unwrap();
    let grpc = free_port();
    let health = free_port();
    let envs = worker_envs(&format!("127.0.0.1:{grpc}"), health, &[]);
    let mut worker = Proc::spawn(Path::new(BIN), &[], &envs, dir.path().join("worker.log"));
    let probe = Probe::new(health);
    probe
        .until("/livez", StatusCode::OK, Duration::from_secs(20))
        .await;
    assert_eq!(
        probe.status("/readyz").await,
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    eventually(
        Duration::from_secs(10),
        "a failed connection attempt to be logged",
        || async {
            worker
                .log_text()
                .contains("cannot connect to Temporal")
                .then_some(())
        },
    )
    .await;
    assert!(
        !worker.has_exited(),
        "the worker keeps running: {}",
        worker.log_text()
    );

    // Temporal appears on that port; the worker connects and runs workflows.
    let cli = temporal_cli::provision_async().await.unwrap();
    let _temporal = DevServer::start(DevServerOptions {
        port: Some(grpc),
        ..DevServerOptions::new(cli)
    })
    .await
    .unwrap();
    probe
        .until("/readyz", StatusCode::OK, Duration::from_secs(20))
        .await;

    let mut env = TestEnv::builder()
        .without_worker()
        .without_api()
        .start()
        .await;
    env.settings.temporal.address = Some(format!("127.0.0.1:{grpc}"));
    env.start_api().await;
    env.wait_ready().await;
    let response = env
        .post_json("/workflows/shopping", &shopping_body(&[("BANANA", 7)]))
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["result"], "Ordered 7 Bananas...", "{body}");

    worker.signal(Signal::SIGTERM);
    assert!(
        worker.wait_exit(Duration::from_secs(20)).await.success(),
        "{}",
        worker.log_text()
    );
}

#[tokio::test]
async fn sigterm_drains_the_worker_and_running_activities_finish() {
    let env = TestEnv::builder().without_worker().start().await;
    let health = free_port();
    let envs = worker_envs(
        &env.temporal.address(),
        health,
        &[
            ("FLOWGATE_SHOPPING__ORDER_DELAY", "3s"),
            ("FLOWGATE_WORKER__SHUTDOWN_GRACE", "20s"),
        ],
    );
    let mut worker = Proc::spawn(Path::new(BIN), &[], &envs, env.dir().join("worker.log"));
    let probe = Probe::new(health);
    probe
        .until("/readyz", StatusCode::OK, Duration::from_secs(20))
        .await;

    let started: Value = env
        .post_json(
            "/workflows/shopping/async",
            &shopping_body(&[("APPLE", 3), ("ORANGE", 2)]),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = started["workflow_id"].as_str().unwrap().to_owned();
    let client = env.temporal_client().await;
    eventually(
        Duration::from_secs(10),
        "both order activities to be running",
        || async { (temporal::started_activities(&client, &id).await == 2).then_some(()) },
    )
    .await;

    worker.signal(Signal::SIGTERM);
    probe
        .until(
            "/readyz",
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(2),
        )
        .await;
    let status = worker.wait_exit(Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "clean exit after draining: {status:?}\n{}",
        worker.log_text()
    );
    assert!(
        worker.log_text().contains("worker drained and stopped"),
        "{}",
        worker.log_text()
    );

    // The activities that were running when SIGTERM came completed before the worker left:
    // none is pending, so none will be retried.
    assert_eq!(temporal::pending_activities(&client, &id).await, 0);

    // The next worker only has to finish the workflow: no activity runs again (each would take
    // 3 s, or 30 s until an abandoned one timed out).
    let mut env = env;
    env.start_worker().await;
    let begun = std::time::Instant::now();
    let result: Value = env
        .get(&format!("/workflows/{id}/result?wait=10"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        begun.elapsed() < Duration::from_secs(3),
        "no activity re-ran: {:?}",
        begun.elapsed()
    );
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(result["result"], "Ordered 3 Apples...Ordered 2 Oranges...");
}

#[tokio::test]
async fn a_bad_setting_stops_the_worker_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("FLOWGATE_WORKER__SHUTDOWN_GRACE", "0s".to_owned())];
    let mut worker = Proc::spawn(Path::new(BIN), &[], &envs, dir.path().join("worker.log"));
    let status = worker.wait_exit(Duration::from_secs(20)).await;
    let output = worker.log_text();
    assert_eq!(status.code(), Some(2), "{output}");
    assert_eq!(output.trim().lines().count(), 1, "{output}");
    assert!(output.contains("worker.shutdown_grace"), "{output}");
}
