//! Two releases of Flowgate (`a` and `b`, the real binaries, each on its own task queue) and
//! another application (the "shop") in one namespace, scraped by one real Prometheus as
//! ServiceMonitors would have it, with the chart's PrometheusRule of both releases loaded. Each
//! release's dashboards (the chart's ConfigMaps) and alerts see only that release's series: the
//! other release's and the shop's — which export the same metric names, with values that would
//! fire or hide Flowgate's alerts — never change what they show.
//!
//! Needs the `prometheus` binary (Debian's `prometheus`) and the Helm SDK (PyPI); skipped
//! without them unless `FLOWGATE_REQUIRE_PROMETHEUS=1` / `FLOWGATE_REQUIRE_DEPLOY_TOOLS=1`.

mod alerts;
mod cluster;
mod dashboards;
mod release;
mod shop;

use std::{collections::BTreeSet, time::Duration};

use flowgate_deploy_checks::{
    EVENT_ONLY_METRICS, deploy_metric_names,
    helm::{Render, profile_path},
    tools,
};
use flowgate_testkit::{
    TestEnv, keep_shopping,
    prometheus::{Prometheus, binary_or_skip},
    temporal,
};
use serde_json::json;

use self::{
    alerts::Rules,
    cluster::{NAMESPACE, Targets, prometheus_config},
    release::Release,
    shop::Shop,
};

/// The shop's Services (scrape jobs).
const SHOP_JOBS: [&str; 2] = ["shop-frontend", "shop-worker"];
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn two_releases_and_another_app_in_one_namespace_each_see_only_their_own_series() {
    let Some(prometheus_bin) = binary_or_skip() else {
        return;
    };
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };

    // Arrange: the chart rendered for both releases in the namespace; Temporal, both releases,
    // the shop; Prometheus scraping all six Services with both releases' rules loaded.
    let render = |release: &str| {
        Render::files([profile_path("monitoring")])
            .set(json!({"temporal": {"address": "temporal-frontend.temporal:7233"}}))
            .release(release)
            .namespace(NAMESPACE)
            .objects(&python)
            .unwrap()
    };
    let charts = [render("a"), render("b")];
    // Polls that find nothing end after 2 s instead of a minute: the empty-poll panels get data.
    let env = TestEnv::builder()
        .without_api()
        .without_worker()
        .temporal_dynamic_config("matching.longPollExpirationInterval", "\"2s\"")
        .start()
        .await;
    let dir = env.dir();
    let address = env.temporal.address();
    let (mut a, b) = tokio::join!(
        Release::start("a", dir, &address),
        Release::start("b", dir, &address)
    );
    let mut names: BTreeSet<String> = deploy_metric_names().unwrap();
    names.extend(EVENT_ONLY_METRICS.iter().map(|n| (*n).to_owned()));
    let shop = Shop::start(&names).await;
    let rules = [
        Rules::write(dir, &charts[0], "a", a.jobs()),
        Rules::write(dir, &charts[1], "b", b.jobs()),
    ];
    let [a_api, a_worker] = a.jobs();
    let mut endpoints = Vec::new();
    for release in [&a, &b] {
        let [api, worker] = release.jobs();
        endpoints.push((api, release.api_metrics.clone()));
        endpoints.push((worker, release.worker_metrics.clone()));
    }
    endpoints.push((SHOP_JOBS[0].to_owned(), shop.frontend.clone()));
    endpoints.push((SHOP_JOBS[1].to_owned(), shop.worker.clone()));
    let mut targets = Targets::write(dir, endpoints);
    let rule_files = [rules[0].file.clone(), rules[1].file.clone()];
    let prometheus =
        Prometheus::start_with_config(&prometheus_bin, dir, &prometheus_config(&rule_files)).await;
    prometheus
        .wait_for("up", WAIT, |up| {
            up.len() == 6
                && up
                    .iter()
                    .all(|s| s.value == 1.0 && s.labels["namespace"] == NAMESPACE)
        })
        .await;

    // Act: shoppers keep ordering through both releases while the dashboards are read; on each
    // queue a workflow fails (started by another client, past the API's validation), so failure
    // panels have data too.
    let shoppers =
        [&a, &b].map(|r| tokio::spawn(keep_shopping(format!("{}/workflows/shopping", r.base))));
    let client = env.temporal_client().await;
    let bad = json!({"items": [{"fruit": "APPLE", "amount": 0}]});
    for release in [&a, &b] {
        let id = format!("{}-fails", release.name);
        temporal::start_raw(&client, "ShoppingWorkflow", &release.task_queue, &id, &bad).await;
        let result: serde_json::Value =
            reqwest::get(format!("{}/workflows/{id}/result", release.base))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(result["status"], "failed", "{result}\n{}", release.logs());
    }

    // Assert: each release's dashboards show its own series only, and the queries have data.
    let mut views = Vec::new();
    for (chart, release) in charts.iter().zip([&a, &b]) {
        let boards = chart.dashboards().unwrap();
        assert_eq!(boards.len(), 4);
        let queries =
            dashboards::queries(&prometheus, &boards, &release.jobs(), &release.task_queue).await;
        views.push((queries, release.jobs()));
    }
    let all: Vec<&dashboards::Query> = views.iter().flat_map(|(q, _)| q).collect();
    assert!(all.len() > 60, "{} queries", all.len());
    let time = dashboards::settled_instant(&prometheus, &all).await;
    for (queries, jobs) in &views {
        let with_data = dashboards::assert_scoped(&prometheus, queries, jobs, time).await;
        // Each query without data reads a failure counter; they stay a minority.
        assert!(
            with_data * 4 >= queries.len() * 3,
            "only {with_data} of {} queries have data",
            queries.len()
        );
    }

    for shopper in shoppers {
        if shopper.is_finished() {
            panic!("a shopper stopped: {:?}", shopper.await);
        }
        shopper.abort();
    }

    // Assert: each release's rules only ever fire for its own Services, while the shop would
    // fire every one of them (but FlowgateNoWorker: see below) if the selector were missing.
    for release in &rules {
        release.assert_own_series_only(&prometheus, time).await;
        release.assert_active_alerts_own(&prometheus).await;
        for (alert, _) in release
            .rules
            .iter()
            .filter(|(a, _)| a != "FlowgateNoWorker")
        {
            let open = prometheus.query_at(&release.open(alert), time).await;
            assert!(
                open.iter()
                    .any(|s| SHOP_JOBS.contains(&s.labels["job"].as_str())),
                "without its selector {alert} would not fire for the shop, so its scope is not tested: {open:?}"
            );
        }
    }

    // Act: a's worker stops; its Service is still scraped (a pod that is not ready).
    a.stop_worker().await;
    let polling = rules[0].expr("FlowgateNoWorkerPolling").to_owned();
    prometheus
        .wait_for(&polling, WAIT, |s| {
            s.len() == 1 && s[0].labels["job"] == a_worker
        })
        .await;
    // Assert: a's alert fires for a's worker; b's rules see nothing wrong.
    rules[0]
        .wait_active(&prometheus, "FlowgateNoWorkerPolling", &a_worker)
        .await;
    let now = dashboards::unix_now();
    for release in &rules {
        release.assert_own_series_only(&prometheus, now).await;
        release.assert_active_alerts_own(&prometheus).await;
    }
    assert!(
        rules[1]
            .active(&prometheus, "FlowgateNoWorkerPolling")
            .await
            .is_empty()
    );

    // Act: a's worker Service has no endpoint left (the Deployment scaled to zero).
    targets.remove(&a_worker);
    let no_worker = rules[0].expr("FlowgateNoWorker").to_owned();
    let fired = prometheus
        .wait_for(&no_worker, WAIT, |s| {
            s.len() == 1 && s[0].labels["job"] == a_api
        })
        .await;
    // Assert: a's FlowgateNoWorker fires although b's worker and the shop's run beside it —
    // which would hide it if the rule looked at the whole namespace.
    assert!(rules[0].owns(&fired[0]), "{fired:?}");
    let hidden = prometheus.query(&rules[0].open("FlowgateNoWorker")).await;
    assert!(
        hidden.iter().all(|s| s.labels["job"] != a_api),
        "without its selector FlowgateNoWorker would fire anyway, so masking is not tested: {hidden:?}"
    );
    rules[0]
        .wait_active(&prometheus, "FlowgateNoWorker", &a_api)
        .await;
    assert!(
        rules[1]
            .active(&prometheus, "FlowgateNoWorker")
            .await
            .is_empty()
    );
    let now = dashboards::unix_now();
    for release in &rules {
        release.assert_own_series_only(&prometheus, now).await;
        release.assert_active_alerts_own(&prometheus).await;
    }
}
