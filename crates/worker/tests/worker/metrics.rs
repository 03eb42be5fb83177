//! `/metrics` on the worker's probe port: our registry and the Temporal SDK's metrics in one
//! scrape, with Prometheus units and suffixes.

use std::time::Duration;

use flowgate_testkit::{
    TestEnv, eventually,
    metrics::{Scrape, scrape},
    shopping_body,
};
use reqwest::StatusCode;

async fn worker_metrics(env: &TestEnv) -> Scrape {
    scrape(
        &env.http,
        &format!("http://{}/metrics", env.worker_health()),
    )
    .await
}

#[tokio::test]
async fn the_probe_port_serves_the_workers_and_the_sdks_metrics_in_one_scrape() {
    let env = TestEnv::start().await;
    let mut ids = Vec::new();
    for items in [
        &[("APPLE", 5), ("BANANA", 3)][..],
        &[("APPLE", 2), ("APPLE", 4)][..],
    ] {
        let response = env
            .post_json("/workflows/shopping", &shopping_body(items))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "completed", "{body}");
        ids.push(body["workflow_id"].as_str().unwrap().to_owned());
    }

    // The SDK records a completion as it reports it, so it may trail the client's answer.
    let scrape = eventually(
        Duration::from_secs(10),
        "both workflow completions in the worker's metrics",
        || async {
            let scrape = worker_metrics(&env).await;
            let completed = scrape.sum(
                "temporal_workflow_completed_total",
                &[("workflow_type", "ShoppingWorkflow")],
            );
            (completed >= 2.0).then_some(scrape)
        },
    )
    .await;

    // Business metric: exactly the items ordered, by fruit, every fruit from zero.
    let ordered = |fruit| scrape.value("flowgate_items_ordered_total", &[("fruit", fruit)]);
    assert_eq!(ordered("APPLE"), Some(11.0));
    assert_eq!(ordered("BANANA"), Some(3.0));
    assert_eq!(ordered("CHERRY"), Some(0.0));
    assert_eq!(ordered("ORANGE"), Some(0.0));

    // The SDK's worker, activity and client metrics, in seconds and with `_total`.
    let activities = scrape.sum(
        "temporal_activity_execution_latency_seconds_count",
        &[("activity_type", "order_apples")],
    );
    assert_eq!(activities, 3.0, "{}", scrape.text);
    for name in [
        "temporal_workflow_endtoend_latency_seconds_count",
        "temporal_workflow_task_execution_latency_seconds_count",
        "temporal_activity_schedule_to_start_latency_seconds_count",
        "temporal_workflow_task_queue_poll_succeed_total",
        "temporal_worker_task_slots_available",
        "temporal_request_total",
        "temporal_request_latency_seconds_count",
    ] {
        assert!(
            scrape.sum(name, &[]) > 0.0,
            "{name} missing: {}",
            scrape.text
        );
    }
    for (family, kind) in &scrape.types {
        assert!(!family.ends_with("_milliseconds"), "{family}");
        match kind.as_str() {
            "counter" => assert!(family.ends_with("_total"), "counter {family}"),
            "histogram" => assert!(family.ends_with("_seconds"), "histogram {family}"),
            _ => {}
        }
    }

    // Ours: build info, process metrics, and the SDK's part accounted for.
    let build = scrape
        .matching("flowgate_build_info", &[("service", "flowgate-worker")])
        .into_iter()
        .next()
        .expect("flowgate_build_info");
    assert_eq!(build.value, 1.0);
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(scrape.value("process_resident_memory_bytes", &[]).unwrap() > 1_000_000.0);
    assert!(scrape.value("process_open_fds", &[]).unwrap() > 0.0);
    assert!(scrape.has("process_cpu_seconds_total"));
    assert_eq!(
        scrape.value("flowgate_worker_sdk_metrics_up", &[]),
        Some(1.0)
    );

    // No workflow id in any label.
    for id in &ids {
        assert!(
            !scrape.text.contains(id.as_str()),
            "{id} in {}",
            scrape.text
        );
    }
}
