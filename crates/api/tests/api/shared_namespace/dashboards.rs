//! A release's dashboards as Grafana shows them: the chart's dashboard ConfigMaps, their
//! variables resolved by asking Prometheus what Grafana asks (`label_values`, "All" selected),
//! every panel query run against the shared Prometheus.
//!
//! Each query is run three ways at one instant: as shown; scoped to the release by hand (every
//! selector also gets the release's namespace and jobs); and with every `namespace` and `job`
//! matcher taken out. Shown must equal scoped-by-hand (a selector that misses the filter would
//! take in the other release's or the shop's series and change the answer), and must differ from
//! the open query (so the comparison can tell: the other series are really there).

use std::collections::BTreeMap;

use flowgate_deploy_checks::{
    EVENT_ONLY_METRICS,
    grafana::{Dashboard, interpolate, regex_value},
    metric_names,
    promql::{with_matchers, without_labels},
};
use flowgate_testkit::prometheus::{Prometheus, Series};

use super::cluster::NAMESPACE;

/// Metrics a short, healthy run never creates a series for, besides the SDK's
/// [`EVENT_ONLY_METRICS`]: nothing asks for a webhook here, and every call to Temporal succeeds.
const QUIET: &[&str] = &[
    "flowgate_webhook_deliveries_total",
    "flowgate_webhook_delivery_attempts_total",
    "flowgate_webhook_delivery_latency_seconds_bucket",
    "flowgate_temporal_request_failures_total",
];

/// One query of a release's dashboards, its variables written in.
pub(super) struct Query {
    /// `<file>: <panel>`.
    pub(super) origin: String,
    /// The PromQL Grafana sends.
    pub(super) promql: String,
}

impl Query {
    /// Whether a healthy short run may leave it without data: it reads a failure counter (or a
    /// ratio over one), or 5xx answers.
    fn may_be_empty(&self) -> bool {
        self.promql.contains(r#"http_response_status_code=~"5..""#)
            || metric_names(&self.promql).iter().any(|name| {
                EVENT_ONLY_METRICS.contains(&name.as_str()) || QUIET.contains(&name.as_str())
            })
    }
}

/// Resolves each dashboard's variables as Grafana does with "All" selected, asserting what the
/// namespace, job and task queue drop-downs offer, and returns every panel query.
pub(super) async fn queries(
    prometheus: &Prometheus,
    boards: &[Dashboard],
    jobs: &[String; 2],
    task_queue: &str,
) -> Vec<Query> {
    let mut queries = Vec::new();
    for board in boards {
        let mut values = BTreeMap::new();
        for variable in &board.variables {
            let selector = interpolate(&variable.selector, &values, "1m");
            let offered = prometheus.label_values(&variable.label, &selector).await;
            let expected: Vec<String> = match variable.name.as_str() {
                "namespace" => vec![NAMESPACE.to_owned()],
                "job" => jobs.to_vec(),
                "task_queue" => vec![task_queue.to_owned()],
                other => panic!("{}: unexpected variable ${other}", board.file),
            };
            assert_eq!(
                offered, expected,
                "{} ({}): ${} offers other values",
                board.file, board.title, variable.name
            );
            let value = variable
                .all_value
                .clone()
                .unwrap_or_else(|| regex_value(&offered));
            values.insert(variable.name.clone(), value);
        }
        for target in &board.targets {
            queries.push(Query {
                origin: format!("{} ({})", target.origin, board.title),
                promql: interpolate(&target.expr, &values, "1m"),
            });
        }
    }
    queries
}

/// Polls until every query that must have data has some at `now - 3 s` (each scrape before then
/// is stored: the answers no longer change), and returns that instant.
pub(super) async fn settled_instant(prometheus: &Prometheus, queries: &[&Query]) -> f64 {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let time = unix_now() - 3.0;
        let mut empty = Vec::new();
        for query in queries.iter().filter(|q| !q.may_be_empty()) {
            if !has_data(&prometheus.query_at(&query.promql, time).await) {
                empty.push(format!("{}: {}", query.origin, query.promql));
            }
        }
        if empty.is_empty() {
            return time;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "panels without data:\n{}\ntargets: {}",
            empty.join("\n"),
            prometheus.targets().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Asserts that each query at `time` shows only the release's series (see the module docs);
/// returns how many had data.
pub(super) async fn assert_scoped(
    prometheus: &Prometheus,
    queries: &[Query],
    jobs: &[String; 2],
    time: f64,
) -> usize {
    let scope = format!(r#"namespace="{NAMESPACE}", job=~"{}""#, jobs.join("|"));
    let mut with_data = 0;
    for query in queries {
        let shown = sorted(prometheus.query_at(&query.promql, time).await);
        let by_hand = sorted(
            prometheus
                .query_at(&with_matchers(&query.promql, &scope), time)
                .await,
        );
        let open = sorted(
            prometheus
                .query_at(&without_labels(&query.promql, &["namespace", "job"]), time)
                .await,
        );
        let origin = &query.origin;
        assert!(
            same(&shown, &by_hand),
            "{origin} shows other series than its release's:\n{}\nshown: {shown:?}\nthe release's: {by_hand:?}",
            query.promql
        );
        assert!(
            !same(&shown, &open),
            "{origin}: the other series do not change the answer, so its scope is not tested:\n{}\n{shown:?}",
            query.promql
        );
        for series in &shown {
            let job = series.labels.get("job");
            let namespace = series.labels.get("namespace");
            assert!(
                job.is_none_or(|job| jobs.contains(job))
                    && namespace.is_none_or(|n| n == NAMESPACE),
                "{origin} shows {series:?}"
            );
        }
        if !has_data(&shown) {
            assert!(
                query.may_be_empty(),
                "{origin} has no data: {}",
                query.promql
            );
        } else {
            with_data += 1;
        }
    }
    with_data
}

/// Whether a panel would draw something: a quantile of nothing is a series of NaN.
fn has_data(series: &[Series]) -> bool {
    series.iter().any(|s| s.value.is_finite())
}

fn sorted(mut series: Vec<Series>) -> Vec<Series> {
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    series
}

/// Same series with the same values (NaN equal to NaN: a quantile of nothing).
fn same(a: &[Series], b: &[Series]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.labels == y.labels
                && (x.value == y.value
                    || (x.value.is_nan() && y.value.is_nan())
                    || (x.value - y.value).abs() <= 1e-9 * x.value.abs().max(y.value.abs()))
        })
}

/// Now, in Unix seconds.
pub(super) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
