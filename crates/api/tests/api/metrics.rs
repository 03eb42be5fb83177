//! `/metrics` on the API's admin listener: HTTP metrics by route template, workflow starts,
//! Temporal calls, Temporal reachability, build info and process metrics.

use std::time::Duration;

use flowgate_testkit::{
    TestEnv, eventually,
    metrics::{Scrape, scrape},
    shopping_body,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::{json, problem};

const DURATION: &str = "http_server_request_duration_seconds";
const STARTS: &str = "flowgate_workflow_starts_total";
const TEMPORAL_CALLS: &str = "flowgate_temporal_request_duration_seconds_count";
const TEMPORAL_FAILURES: &str = "flowgate_temporal_request_failures_total";

async fn api_metrics(env: &TestEnv) -> Scrape {
    scrape(&env.http, &env.api_admin_url("/metrics")).await
}

/// Requests counted for `method route status`.
fn requests(scrape: &Scrape, method: &str, route: &str, status: &str) -> f64 {
    scrape
        .value(
            &format!("{DURATION}_count"),
            &[
                ("http_request_method", method),
                ("http_route", route),
                ("http_response_status_code", status),
            ],
        )
        .unwrap_or(0.0)
}

#[tokio::test]
async fn http_requests_are_measured_by_method_route_template_and_status() {
    let env = TestEnv::start().await;
    let run = json(
        env.post_json("/workflows/shopping", &shopping_body(&[("APPLE", 2)]))
            .await,
        StatusCode::OK,
    )
    .await;
    let id = run["workflow_id"].as_str().unwrap().to_owned();
    json(
        env.get(&format!("/workflows/{id}/status")).await,
        StatusCode::OK,
    )
    .await;
    problem(
        env.get("/no/such/path-metrics-test").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let not_allowed = env
        .http
        .delete(env.url("/workflows/shopping"))
        .send()
        .await
        .unwrap();
    problem(not_allowed, StatusCode::METHOD_NOT_ALLOWED).await;

    let scrape = api_metrics(&env).await;
    assert_eq!(scrape.types[DURATION], "histogram");
    assert_eq!(requests(&scrape, "POST", "/workflows/shopping", "200"), 1.0);
    assert_eq!(
        requests(&scrape, "GET", "/workflows/{workflow_id}/status", "200"),
        1.0
    );
    assert_eq!(requests(&scrape, "GET", "<unmatched>", "404"), 1.0);
    assert_eq!(
        requests(&scrape, "DELETE", "/workflows/shopping", "405"),
        1.0
    );
    // The synchronous start waited for the workflow: its time is all there, and plausible.
    let post = [
        ("http_request_method", "POST"),
        ("http_route", "/workflows/shopping"),
    ];
    let seconds = scrape.value(&format!("{DURATION}_sum"), &post).unwrap();
    assert!(seconds > 0.0 && seconds < 30.0, "{seconds}");
    // The semantic conventions' buckets, cumulative.
    let buckets: Vec<(&str, f64)> = scrape
        .matching(&format!("{DURATION}_bucket"), &post)
        .into_iter()
        .map(|s| (s.labels["le"].as_str(), s.value))
        .collect();
    let bounds: Vec<&str> = buckets.iter().map(|(le, _)| *le).collect();
    assert_eq!(
        bounds,
        [
            "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5",
            "5", "7.5", "10", "+Inf"
        ]
    );
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last().unwrap().1, 1.0);
    // Label values stay bounded: no workflow id, no raw path.
    assert!(!scrape.text.contains(&id), "{}", scrape.text);
    assert!(
        !scrape.text.contains("path-metrics-test"),
        "{}",
        scrape.text
    );
    // Nothing is in flight any more.
    assert_eq!(
        scrape.sum("http_server_active_requests", &[]),
        0.0,
        "{}",
        scrape.text
    );
}

#[tokio::test]
async fn requests_in_flight_are_gauged_by_method_and_route() {
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = Duration::from_secs(2))
        .start()
        .await;
    let request = tokio::spawn({
        let (http, url) = (env.http.clone(), env.url("/workflows/shopping"));
        async move {
            http.post(url)
                .json(&shopping_body(&[("CHERRY", 1)]))
                .send()
                .await
        }
    });
    let in_flight = [
        ("http_request_method", "POST"),
        ("http_route", "/workflows/shopping"),
    ];
    eventually(
        Duration::from_secs(10),
        "the synchronous start to show as in flight",
        || async {
            let scrape = api_metrics(&env).await;
            (scrape.value("http_server_active_requests", &in_flight) == Some(1.0)).then_some(())
        },
    )
    .await;
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let scrape = api_metrics(&env).await;
    assert_eq!(
        scrape.value("http_server_active_requests", &in_flight),
        Some(0.0)
    );
    assert_eq!(scrape.types["http_server_active_requests"], "gauge");
}

#[tokio::test]
async fn workflow_starts_and_temporal_calls_are_counted_by_outcome() {
    let env = TestEnv::start().await;
    let mut body = shopping_body(&[("ORANGE", 1)]);
    body["workflow_id"] = json!("metrics-chosen-id");
    json(
        env.post_json("/workflows/shopping/async", &body).await,
        StatusCode::OK,
    )
    .await;
    problem(
        env.post_json("/workflows/shopping/async", &body).await,
        StatusCode::CONFLICT,
    )
    .await;
    // Rejected before Temporal is asked: not a start.
    problem(
        env.post_json("/workflows/shopping", &shopping_body(&[("APPLE", 0)]))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        env.get("/workflows/no-such-workflow/status").await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let scrape = api_metrics(&env).await;
    let starts = |outcome| {
        scrape.value(
            STARTS,
            &[("workflow_type", "ShoppingWorkflow"), ("outcome", outcome)],
        )
    };
    assert_eq!(starts("started"), Some(1.0));
    assert_eq!(starts("already_exists"), Some(1.0));
    assert_eq!(starts("unavailable"), Some(0.0));
    assert_eq!(starts("error"), Some(0.0));
    assert_eq!(
        scrape.value(TEMPORAL_CALLS, &[("operation", "start")]),
        Some(2.0)
    );
    // A chosen id is looked up before it is used (twice), and the status read once.
    assert_eq!(
        scrape.value(TEMPORAL_CALLS, &[("operation", "describe")]),
        Some(3.0)
    );
    // A definite answer (already exists, not found) is not a failure.
    assert_eq!(scrape.sum(TEMPORAL_FAILURES, &[]), 0.0, "{}", scrape.text);
    assert_eq!(
        scrape.matching(TEMPORAL_FAILURES, &[]).len(),
        flowgate_api::TemporalOperation::ALL.len() * flowgate_api::FailureReason::ALL.len(),
        "every operation and reason from zero"
    );
    assert_eq!(scrape.value("flowgate_temporal_up", &[]), Some(1.0));
    assert!(!scrape.text.contains("metrics-chosen-id"));
}

#[tokio::test]
async fn a_temporal_outage_shows_in_temporal_up_and_in_failures_by_reason() {
    let mut env = TestEnv::start().await;
    env.temporal.kill().await.unwrap();
    eventually(
        Duration::from_secs(10),
        "flowgate_temporal_up to turn 0",
        || async {
            let up = api_metrics(&env).await.value("flowgate_temporal_up", &[]);
            (up == Some(0.0)).then_some(())
        },
    )
    .await;
    problem(
        env.post_json("/workflows/shopping/async", &shopping_body(&[("APPLE", 1)]))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    problem(
        env.get("/workflows/any/status").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    let scrape = api_metrics(&env).await;
    assert_eq!(
        scrape.value(
            STARTS,
            &[
                ("workflow_type", "ShoppingWorkflow"),
                ("outcome", "unavailable")
            ]
        ),
        Some(1.0)
    );
    for operation in ["start", "describe"] {
        assert_eq!(
            scrape.value(
                TEMPORAL_FAILURES,
                &[("operation", operation), ("reason", "unavailable")]
            ),
            Some(1.0),
            "{operation}"
        );
    }
    assert_eq!(
        requests(&scrape, "POST", "/workflows/shopping/async", "503"),
        1.0
    );

    env.temporal.restart().await.unwrap();
    eventually(
        Duration::from_secs(20),
        "flowgate_temporal_up to return to 1",
        || async {
            let up = api_metrics(&env).await.value("flowgate_temporal_up", &[]);
            (up == Some(1.0)).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn build_info_and_process_metrics_are_served_on_the_admin_port_only() {
    let env = TestEnv::start().await;
    let scrape = api_metrics(&env).await;
    let build = scrape
        .matching("flowgate_build_info", &[("service", "flowgate-api")])
        .into_iter()
        .next()
        .expect("flowgate_build_info");
    assert_eq!(build.value, 1.0);
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(!build.labels["git_commit"].is_empty());
    let rss = scrape.value("process_resident_memory_bytes", &[]).unwrap();
    assert!(rss > 1_000_000.0, "{rss}");
    assert!(scrape.value("process_open_fds", &[]).unwrap() > 0.0);
    assert!(scrape.value("process_cpu_seconds_total", &[]).unwrap() >= 0.0);
    assert_eq!(scrape.types["process_cpu_seconds_total"], "counter");

    // The public port does not serve metrics.
    let body = problem(env.get("/metrics").await, StatusCode::NOT_FOUND).await;
    assert_eq!(body["code"], "route-not-found");
    // Nor does the admin port serve the API: only its probes.
    let api_on_admin = env
        .http
        .get(env.api_admin_url("/v1/workflows"))
        .send()
        .await
        .unwrap();
    assert_eq!(api_on_admin.status(), StatusCode::NOT_FOUND);
    for probe in ["/livez", "/readyz"] {
        let answer = env.http.get(env.api_admin_url(probe)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{probe} on the admin port");
    }
}
