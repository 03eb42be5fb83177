//! Temporal's Grafana dashboard for the Core-based SDKs (`temporalio/dashboards`,
//! `sdk/temporal-core-sdks-otel.json`, "Temporal Core SDK (OTel) Metrics") queries the SDK's
//! default names: counters without `_total`, histograms in milliseconds without a unit
//! (`temporal_request_latency_bucket`). Flowgate's worker exports Prometheus names instead (`_total`,
//! seconds, `_seconds`), so that dashboard stays empty against it; Flowgate's own dashboards
//! cover each of its panels instead. For each of Temporal's panels this test finds the Flowgate
//! panel reading the same SDK metric under the worker's name, and runs that panel's query
//! against a real Prometheus scraping a real worker that ran workflows — including the ones that
//! only have data once something went wrong, which the test provokes.
//!
//! Needs the `prometheus` binary (Debian's `prometheus` package); skipped without it unless
//! `FLOWGATE_REQUIRE_PROMETHEUS=1`.

use std::{collections::BTreeMap, time::Duration};

use flowgate_deploy_checks::{
    deploy_dir,
    grafana::{Dashboard, interpolate},
    metric_names,
};
use flowgate_testkit::{
    TestEnv, keep_shopping,
    prometheus::{Prometheus, binary_or_skip},
    temporal,
};

/// Each panel of Temporal's dashboard: `(its title, the metric it reads as the SDK names it by
/// default, the worker's name for it, the Flowgate dashboard and panel reading that)`.
#[rustfmt::skip]
const THEIR_PANELS: &[(&str, &str, &str, &str, &str)] = &[
    ("CPU usage", "", "process_cpu_seconds_total", "process", "CPU"),
    ("Memory usage", "", "process_resident_memory_bytes", "process", "Resident memory"),
    ("RPC Requests Vs Failures", "temporal_request", "temporal_request_total", "worker", "SDK RPC rate"),
    ("RPC Requests Vs Failures", "temporal_request_failure", "temporal_request_failure_total", "worker", "SDK RPC failures"),
    ("RPC Failures Per Operation", "temporal_request_failure", "temporal_request_failure_total", "worker", "SDK RPC failures"),
    ("RPC Requests Per Operation", "temporal_request", "temporal_request_total", "worker", "SDK RPC rate"),
    ("RPC Latencies (p95)", "temporal_request_latency_bucket", "temporal_request_latency_seconds_bucket", "worker", "SDK RPC latency p95"),
    ("Long RPC Failures Per Operation", "temporal_long_request_failure", "temporal_long_request_failure_total", "worker", "SDK RPC failures"),
    ("Long RPC Latencies (p95)", "temporal_long_request_latency_bucket", "temporal_long_request_latency_seconds_bucket", "worker", "SDK RPC latency p95"),
    ("Workflow Completion", "temporal_workflow_completed", "temporal_workflow_completed_total", "workflows", "Completions by type"),
    ("Workflow End-To-End Latencies", "temporal_workflow_endtoend_latency_bucket", "temporal_workflow_endtoend_latency_seconds_bucket", "workflows", "End-to-end latency"),
    ("Workflow Failures By Type", "temporal_workflow_failed", "temporal_workflow_failed_total", "workflows", "Failures by type"),
    ("Workflow Task Throughput", "temporal_workflow_task_queue_poll_succeed", "temporal_workflow_task_queue_poll_succeed_total", "worker", "Polls: with a task vs empty"),
    ("Workflow Task Schedule To Start (p95)", "temporal_workflow_task_schedule_to_start_latency_bucket", "temporal_workflow_task_schedule_to_start_latency_seconds_bucket", "worker", "Workflow task schedule-to-start p95"),
    ("Workflow Task Failed", "temporal_workflow_task_execution_failed", "temporal_workflow_task_execution_failed_total", "worker", "Workflow task failures"),
    ("Workflow Task Execution Latency (p95)", "temporal_workflow_task_execution_latency_bucket", "temporal_workflow_task_execution_latency_seconds_bucket", "worker", "Workflow task execution latency p95"),
    ("Workflow Task Replay Latency (p95)", "temporal_workflow_task_replay_latency_bucket", "temporal_workflow_task_replay_latency_seconds_bucket", "worker", "Workflow task replay latency p95"),
    ("Workflow Task Empty Polls", "temporal_workflow_task_queue_poll_empty", "temporal_workflow_task_queue_poll_empty_total", "worker", "Polls: with a task vs empty"),
    ("Activity Throughput", "temporal_activity_schedule_to_start_latency_count", "temporal_activity_schedule_to_start_latency_seconds_count", "worker", "Activity tasks started by type"),
    ("Activity Failed", "temporal_activity_execution_failed", "temporal_activity_execution_failed_total", "worker", "Activity failures"),
    ("Activity Execution Latencies (p95)", "temporal_activity_execution_latency_bucket", "temporal_activity_execution_latency_seconds_bucket", "worker", "Activity execution latency p95"),
    ("Empty Activity Polls", "temporal_activity_poll_no_task", "temporal_activity_poll_no_task_total", "worker", "Polls: with a task vs empty"),
    ("Activity Schedule To Start (p95)", "temporal_activity_schedule_to_start_latency_bucket", "temporal_activity_schedule_to_start_latency_seconds_bucket", "worker", "Activity schedule-to-start p95"),
    ("Slots Available", "temporal_worker_task_slots_available", "temporal_worker_task_slots_available", "worker", "Task slots available"),
    ("Slots Used", "temporal_worker_task_slots_used", "temporal_worker_task_slots_used", "worker", "Task slots used"),
    ("Sticky Cache Size", "temporal_sticky_cache_size", "temporal_sticky_cache_size", "worker", "Sticky cache size"),
    ("Sticky Cache Forced Eviction", "temporal_sticky_cache_total_forced_eviction", "temporal_sticky_cache_total_forced_eviction_total", "worker", "Sticky cache hits, misses and evictions"),
    ("Sticky Cache Hit", "temporal_sticky_cache_hit", "temporal_sticky_cache_hit_total", "worker", "Sticky cache hits, misses and evictions"),
    ("Sticky Cache Miss", "temporal_sticky_cache_miss", "temporal_sticky_cache_miss_total", "worker", "Sticky cache hits, misses and evictions"),
];

/// The worker's names for the failed calls to Temporal, which only an outage provokes.
const FAILED_CALLS: &[&str] = &[
    "temporal_request_failure_total",
    "temporal_long_request_failure_total",
];

const WAIT: Duration = Duration::from_secs(60);

/// The SDK's default name, as Temporal's dashboard queries it, under the worker's Prometheus
/// conventions: counters end in `_total`, durations are histograms in seconds named so.
fn prometheus_name(sdk: &str, kind: &str) -> String {
    match kind {
        "counter" => format!("{sdk}_total"),
        "histogram" => ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| {
                sdk.strip_suffix(suffix)
                    .map(|base| format!("{base}_seconds{suffix}"))
            })
            .expect("a histogram series"),
        _ => sdk.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_of_temporals_sdk_dashboard_has_a_flowgate_panel_with_the_workers_data() {
    let Some(bin) = binary_or_skip() else {
        return;
    };
    // A one-workflow cache, so running several workflows at once evicts, misses and replays;
    // slow orders, so they do run at once. Empty long polls end after 2 s.
    let mut env = TestEnv::builder()
        .temporal_dynamic_config("matching.longPollExpirationInterval", "\"2s\"")
        .settings(|s| {
            s.worker.max_cached_workflows = 1;
            s.shopping.order_delay = Duration::from_millis(300);
        })
        .start()
        .await;
    let prometheus = Prometheus::scraping_flowgate(&bin, &env).await;

    // Act: a workflow of a type no worker registered, whose workflow task fails (terminated
    // once it did: it would hold the one cache slot); then two shoppers at once, all along; one
    // workflow that fails.
    let client = env.temporal_client().await;
    temporal::start_raw(
        &client,
        "NoSuchWorkflow",
        "shopping-tasks",
        "sdk-unknown",
        &serde_json::json!({}),
    )
    .await;
    prometheus
        .wait_for("temporal_workflow_task_execution_failed_total", WAIT, |s| {
            !s.is_empty()
        })
        .await;
    temporal::terminate(&client, "sdk-unknown", "its workflow task failed").await;
    let shoppers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(keep_shopping(env.url("/workflows/shopping"))))
        .collect();
    crate::metrics_prometheus::fail_a_shopping_workflow(&env, &client, "sdk-fails").await;

    // Assert: for each of Temporal's panels, the same SDK metric under Prometheus conventions is
    // what one of Flowgate's panels reads, and that panel's query has the worker's data.
    let boards = flowgate_dashboards();
    let (healthy, failing): (Vec<_>, Vec<_>) = THEIR_PANELS
        .iter()
        .partition(|(_, _, ours, _, _)| !FAILED_CALLS.contains(ours));
    for panel in healthy {
        assert_covered(&prometheus, &boards, panel).await;
    }
    for shopper in shoppers {
        if shopper.is_finished() {
            panic!("a shopper stopped: {:?}", shopper.await);
        }
        shopper.abort();
    }

    // Act: Temporal goes away for a moment; the worker's calls fail.
    env.temporal.kill().await.unwrap();
    for name in FAILED_CALLS {
        prometheus.wait_for(name, WAIT, |s| !s.is_empty()).await;
    }
    env.temporal.restart().await.unwrap();
    // Assert: the failure panels show it.
    for panel in failing {
        assert_covered(&prometheus, &boards, panel).await;
    }

    // Durations are in seconds: no latency bucket of the SDK's is above ten minutes.
    let buckets = prometheus
        .query(r#"count by (le) (temporal_request_latency_seconds_bucket{job="flowgate-worker"})"#)
        .await;
    let bounds: Vec<f64> = buckets
        .iter()
        .map(|s| s.labels["le"].parse::<f64>().unwrap())
        .filter(|le| le.is_finite())
        .collect();
    assert!(
        !bounds.is_empty()
            && bounds.iter().all(|le| *le <= 600.0)
            && bounds.iter().any(|le| *le < 0.1),
        "{bounds:?}"
    );
}

/// Flowgate's dashboards as checked in, by short name (`worker` for `flowgate-worker.json`).
fn flowgate_dashboards() -> BTreeMap<&'static str, Dashboard> {
    ["api", "workflows", "worker", "process"]
        .into_iter()
        .map(|name| {
            let file = format!("flowgate-{name}.json");
            let path = deploy_dir().join("grafana/dashboards").join(&file);
            let text = std::fs::read_to_string(path).unwrap();
            (name, Dashboard::parse(&file, &text).unwrap())
        })
        .collect()
}

/// Asserts that Flowgate's panel of `row` reads the worker's name for what Temporal's panel
/// reads, that this name is the SDK's under Prometheus conventions, and that the panel's queries
/// have data (a finite value: a quantile of nothing is NaN).
async fn assert_covered(
    prometheus: &Prometheus,
    boards: &BTreeMap<&str, Dashboard>,
    (theirs, sdk_name, ours, board, panel): &(&str, &str, &str, &str, &str),
) {
    // "All" of every variable in the compose stack: no namespace label, Flowgate's two jobs,
    // any task queue.
    let values = BTreeMap::from([
        ("namespace".to_owned(), ".*".to_owned()),
        (
            "job".to_owned(),
            "(flowgate-api|flowgate-worker)".to_owned(),
        ),
        ("task_queue".to_owned(), ".*".to_owned()),
    ]);
    let queries: Vec<String> = boards[board]
        .targets
        .iter()
        .filter(|t| t.origin.ends_with(&format!(": {panel}")))
        .filter(|t| metric_names(&t.expr).contains(*ours))
        .map(|t| interpolate(&t.expr, &values, "1m"))
        .collect();
    assert!(
        !queries.is_empty(),
        "{theirs}: no query of {board}'s \"{panel}\" reads {ours}"
    );
    for promql in queries {
        prometheus
            .wait_for(&promql, WAIT, |series| {
                series.iter().any(|s| s.value.is_finite())
            })
            .await;
    }
    if !sdk_name.is_empty() {
        let family = ours.trim_end_matches("_bucket").trim_end_matches("_count");
        let metadata = prometheus.metadata().await;
        let kind = metadata
            .get(family)
            .or_else(|| metadata.get(family.trim_end_matches("_total")))
            .unwrap_or_else(|| panic!("{theirs}: Prometheus has no type for {family}"));
        assert_eq!(prometheus_name(sdk_name, kind), *ours, "{theirs}");
    }
}
