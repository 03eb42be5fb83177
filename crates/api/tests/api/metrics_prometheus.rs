//! A real Prometheus server scrapes both processes — the API's admin listener and the worker's
//! probe port — while workflows run, and answers queries over its HTTP API.
//!
//! Needs the `prometheus` binary (Debian's `prometheus` package); skipped without it unless
//! `FLOWGATE_REQUIRE_PROMETHEUS=1`.

use std::time::Duration;

use flowgate_testkit::{
    TestEnv,
    prometheus::{Prometheus, Series, binary_or_skip},
    shopping_body, temporal,
};
use reqwest::StatusCode;

/// Workflows run while Prometheus scrapes.
const WORKFLOWS: usize = 5;
/// Apples in each.
const APPLES: usize = 3;
/// Generous: a scrape each second, on a loaded 2-core machine.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Series that must have data once the workflows ran: `(PromQL, least value of each series,
/// series expected)`. Names cover both processes: the API's own, the worker's business metric,
/// the Temporal SDK's worker and client metrics, build info and process metrics.
const KEY_SERIES: &[(&str, f64, usize)] = &[
    ("flowgate_build_info", 1.0, 2),
    ("process_resident_memory_bytes", 1.0, 2),
    ("process_cpu_seconds_total", 0.0, 2),
    ("process_open_fds", 1.0, 2),
    ("flowgate_temporal_up", 1.0, 1),
    (
        r#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="/workflows/shopping",http_response_status_code="200"}"#,
        WORKFLOWS as f64,
        1,
    ),
    (
        r#"flowgate_workflow_starts_total{workflow_type="ShoppingWorkflow",outcome="started"}"#,
        WORKFLOWS as f64,
        1,
    ),
    (
        r#"flowgate_temporal_request_duration_seconds_count{operation="start"}"#,
        WORKFLOWS as f64,
        1,
    ),
    (
        r#"flowgate_items_ordered_total{fruit="APPLE"}"#,
        (WORKFLOWS * APPLES) as f64,
        1,
    ),
    (
        r#"sum(temporal_workflow_completed_total{workflow_type="ShoppingWorkflow"})"#,
        WORKFLOWS as f64,
        1,
    ),
    (
        r#"sum(temporal_activity_execution_latency_seconds_count{activity_type="order_apples"})"#,
        WORKFLOWS as f64,
        1,
    ),
    ("sum(temporal_request_total)", 1.0, 1),
    ("flowgate_worker_sdk_metrics_up", 1.0, 1),
];

#[tokio::test]
async fn a_real_prometheus_scrapes_the_api_and_the_worker_while_workflows_run() {
    let Some(bin) = binary_or_skip() else {
        return;
    };
    // Long polls that find nothing end after 2 s instead of a minute, so "empty poll" series
    // have data within the test.
    let env = TestEnv::builder()
        .temporal_dynamic_config("matching.longPollExpirationInterval", "\"2s\"")
        .start()
        .await;
    let prometheus = Prometheus::scraping_flowgate(&bin, &env).await;
    let up = |series: &[Series]| {
        ["flowgate-api", "flowgate-worker"].iter().all(|job| {
            series
                .iter()
                .any(|s| s.labels["job"] == *job && s.value == 1.0)
        })
    };

    // Workflows run while the targets are scraped, and afterwards Prometheus has them all.
    let workflows = tokio::spawn({
        let (http, url) = (env.http.clone(), env.url("/workflows/shopping"));
        async move {
            for _ in 0..WORKFLOWS {
                let body = shopping_body(&[("APPLE", APPLES as i64), ("BANANA", 1)]);
                let response = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        }
    });
    prometheus.wait_for("up", QUERY_TIMEOUT, up).await;
    workflows.await.unwrap();
    prometheus.wait_for("up", QUERY_TIMEOUT, up).await;

    // A workflow that fails (another client bypassing the API's validation), so failure series
    // exist too.
    let client = env.temporal_client().await;
    fail_a_shopping_workflow(&env, &client, "fails-for-metrics").await;

    // Every metric a dashboard panel or an alert rule reads has data.
    let names = flowgate_deploy_checks::deploy_metric_names().unwrap();
    assert!(names.len() > 20, "{names:?}");
    for name in &names {
        prometheus
            .wait_for(name, QUERY_TIMEOUT, |series| !series.is_empty())
            .await;
    }

    for (promql, least, count) in KEY_SERIES {
        let series = prometheus
            .wait_for(promql, QUERY_TIMEOUT, |series| {
                series.len() == *count && series.iter().all(|s| s.value >= *least)
            })
            .await;
        if promql.starts_with("flowgate_build_info") {
            let services: Vec<&str> = series
                .iter()
                .map(|s| s.labels["service"].as_str())
                .collect();
            assert!(
                services.contains(&"flowgate-api") && services.contains(&"flowgate-worker"),
                "{series:?}"
            );
        }
    }
    // Exactly the apples ordered: each activity counts once.
    let apples = prometheus
        .query(r#"flowgate_items_ordered_total{fruit="APPLE"}"#)
        .await;
    assert_eq!(apples[0].value, (WORKFLOWS * APPLES) as f64, "{apples:?}");
    assert_eq!(apples[0].labels["job"], "flowgate-worker");
    // Histograms work as histograms: a latency quantile can be computed.
    let p99 = prometheus
        .query(
            r#"histogram_quantile(0.99, sum by (le) (http_server_request_duration_seconds_bucket{http_route="/workflows/shopping"}))"#,
        )
        .await;
    assert!(
        p99.len() == 1 && p99[0].value > 0.0 && p99[0].value <= 10.0,
        "{p99:?}"
    );
}

/// Runs shopping workflow `id` with input the API would refuse (started by another client,
/// bypassing its validation), so it fails; returns once the API reports it failed.
pub(crate) async fn fail_a_shopping_workflow(
    env: &TestEnv,
    client: &temporalio_client::Client,
    id: &str,
) {
    let bad = serde_json::json!({"items": [{"fruit": "APPLE", "amount": 0}]});
    temporal::start_raw(client, "ShoppingWorkflow", "shopping-tasks", id, &bad).await;
    let failed: serde_json::Value = env
        .get(&format!("/workflows/{id}/result"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["status"], "failed", "{failed}");
}
