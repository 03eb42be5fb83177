//! A slow network to Temporal: one health check that gets no answer in time is not an outage,
//! so it neither ends the waits in flight nor reads as Temporal down.

use std::{path::Path, time::Duration};

use flowgate_testkit::{
    TestEnv, eventually, metrics,
    process::{Proc, free_port},
    proxy::PausableProxy,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::json;

/// The activity's processing time: the wait for the result outlasts the pause by far.
const ORDER_DELAY: Duration = Duration::from_secs(4);
/// `temporal.health_failure_threshold`, the default, set here so the test says what it relies on
/// (with 1, the one failed check would end the wait: the test then fails).
const THRESHOLD: &str = "3";
/// Longer than `temporal.health_timeout` (800 ms) plus `temporal.health_interval` (500 ms), so at
/// least one check starts and times out inside it; shorter than what it takes to fail
/// `THRESHOLD` checks in a row (the check after a timed-out one starts at once and is answered
/// when the pause ends), so the link stays up.
const PAUSE: Duration = Duration::from_millis(1400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_health_check_neither_ends_a_wait_for_a_result_nor_reads_as_temporal_down() {
    // Arrange: the worker talks to Temporal directly, the API binary through a pausable proxy.
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = ORDER_DELAY)
        .without_api()
        .start()
        .await;
    let proxy = PausableProxy::start(env.temporal.address()).await;
    let (port, admin) = (free_port(), free_port());
    let api = Proc::spawn(
        Path::new(env!("CARGO_BIN_EXE_flowgate-api")),
        &[],
        &[
            ("TEMPORAL_ADDRESS", proxy.address()),
            ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_API__PORT", port.to_string()),
            ("FLOWGATE_METRICS__API_ADMIN_HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_METRICS__API_ADMIN_PORT", admin.to_string()),
            (
                "FLOWGATE_SHOPPING__ORDER_DELAY",
                format!("{}s", ORDER_DELAY.as_secs()),
            ),
            (
                "FLOWGATE_TEMPORAL__HEALTH_FAILURE_THRESHOLD",
                THRESHOLD.to_owned(),
            ),
            ("RUST_LOG", "info,flowgate_temporal=debug".to_owned()),
        ],
        env.dir().join("api.log"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let metrics_url = format!("http://127.0.0.1:{admin}/metrics");
    let http = reqwest::Client::new();
    flowgate_testkit::temporal_connected(&http, &base, Duration::from_secs(20)).await;
    let started = json(
        http.post(format!("{base}/v1/workflows/shopping"))
            .json(&json!({"workflow_id": "slow-link-order", "input": {"items": [{"fruit": "APPLE", "amount": 3}]}}))
            .send()
            .await
            .unwrap(),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(started["workflow_id"], "slow-link-order");
    let waiting = tokio::spawn(
        http.get(format!(
            "{base}/v1/workflows/slow-link-order/result?wait=20"
        ))
        .send(),
    );
    eventually(
        Duration::from_secs(5),
        "the wait for the result to be in flight",
        || async {
            let scrape = metrics::scrape(&http, &metrics_url).await;
            (scrape.sum(
                "http_server_active_requests",
                &[("http_route", "/v1/workflows/{workflow_id}/result")],
            ) >= 1.0)
                .then_some(())
        },
    )
    .await;

    // Act: the network to Temporal stalls for longer than one health check may take.
    proxy.pause_for(PAUSE);
    let paused = tokio::time::Instant::now();
    let mut lowest = f64::MAX;
    // Sample the gauge about every 50 ms until the wait is answered (a scrape rate, not a wait).
    let mut every = tokio::time::interval(Duration::from_millis(50));
    while !waiting.is_finished() {
        every.tick().await;
        let scrape = metrics::scrape(&http, &metrics_url).await;
        let up = scrape
            .value("flowgate_temporal_up", &[])
            .expect("flowgate_temporal_up is exported");
        lowest = lowest.min(up);
    }
    let response = waiting.await.unwrap().unwrap();

    // Assert: the wait ended with the result, not cut short by the slow check.
    let ended_after = paused.elapsed();
    let out = json(response, StatusCode::OK).await;
    assert_eq!(out["status"], "completed", "{out}");
    assert!(
        ended_after > PAUSE,
        "the wait ended {ended_after:?} after the pause began"
    );
    assert_eq!(out["result"], "Ordered 3 Apples...", "{out}");
    assert_eq!(
        lowest, 1.0,
        "flowgate_temporal_up went to 0 during the pause"
    );
    let log = api.log_text();
    assert!(
        log.contains("a Temporal reachability check failed"),
        "the pause made a health check fail:\n{log}"
    );
    assert!(!log.contains("Temporal is unreachable"), "{log}");
}
