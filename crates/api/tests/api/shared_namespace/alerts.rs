//! A release's alert rules as the chart renders them (its PrometheusRule), loaded into the shared
//! Prometheus and also evaluated expression by expression through the query API (the rules'
//! `for:` is minutes long: what an alert would fire on is what its expression returns).

use std::time::Duration;

use flowgate_deploy_checks::{
    helm::Rendered,
    promql::{parse_matchers, rewrite_selectors},
};
use flowgate_testkit::prometheus::{Prometheus, Series};
use serde_json::Value;

use super::cluster::NAMESPACE;

/// One release's rules.
pub(super) struct Rules {
    /// The rule file Prometheus loaded them from (relative to its configuration).
    pub(super) file: String,
    /// The release's jobs.
    pub(super) jobs: [String; 2],
    /// The matchers the chart put into every selector.
    pub(super) selector: String,
    /// `(alert, expression)` of each rule.
    pub(super) rules: Vec<(String, String)>,
}

impl Rules {
    /// The rules of `rendered` (release `release`), written into `dir/rules-<release>.yml`.
    pub(super) fn write(
        dir: &std::path::Path,
        rendered: &Rendered,
        release: &str,
        jobs: [String; 2],
    ) -> Self {
        let name = format!("{release}-flowgate");
        let text = rendered.rule_file(&name).unwrap();
        let file = format!("rules-{release}.yml");
        std::fs::write(dir.join(&file), &text).unwrap();
        let rule = rendered.get("PrometheusRule", &name).unwrap();
        let rules: Vec<(String, String)> = rule["spec"]["groups"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_sequence().unwrap())
            .map(|r| {
                let alert = r["alert"].as_str().unwrap().to_owned();
                (alert, r["expr"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(rules.len(), 8, "{rules:?}");
        let selector = format!(r#"namespace="{NAMESPACE}", job=~"{}""#, jobs.join("|"));
        // Every metric selector starts with the release's matchers.
        let scope = parse_matchers(&selector);
        for (alert, expr) in &rules {
            rewrite_selectors(expr, |metric, matchers| {
                assert!(
                    matchers.starts_with(&scope),
                    "{alert}: {metric}{matchers:?}"
                );
            });
        }
        Self {
            file,
            jobs,
            selector,
            rules,
        }
    }

    /// The expression of `alert`.
    pub(super) fn expr(&self, alert: &str) -> &str {
        &self.rules.iter().find(|(a, _)| a == alert).unwrap().1
    }

    /// `alert`'s expression without the chart's selector: the rule as it would be if the
    /// selector were missing.
    pub(super) fn open(&self, alert: &str) -> String {
        self.expr(alert)
            .replace(&format!("{}, ", self.selector), "")
            .replace(&self.selector, "")
    }

    /// Asserts that every rule's expression at `time` returns only series of this release,
    /// each naming its namespace and job (what Alertmanager groups by).
    pub(super) async fn assert_own_series_only(&self, prometheus: &Prometheus, time: f64) {
        for (alert, expr) in &self.rules {
            for series in prometheus.query_at(expr, time).await {
                assert!(
                    self.owns(&series),
                    "{} {alert} fires for {series:?}",
                    self.file
                );
            }
        }
    }

    /// Whether `series` names this release's namespace and one of its jobs.
    pub(super) fn owns(&self, series: &Series) -> bool {
        series.labels.get("namespace").map(String::as_str) == Some(NAMESPACE)
            && series
                .labels
                .get("job")
                .is_some_and(|job| self.jobs.contains(job))
    }

    /// The labels of the alerts this release's rule `alert` has active (pending or firing) in
    /// Prometheus's own evaluation.
    pub(super) async fn active(&self, prometheus: &Prometheus, alert: &str) -> Vec<Value> {
        let groups = prometheus.rules().await;
        groups
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["file"].as_str().is_some_and(|f| f.ends_with(&self.file)))
            .flat_map(|g| g["rules"].as_array().unwrap())
            .filter(|r| r["name"] == alert)
            .flat_map(|r| r["alerts"].as_array().cloned().unwrap_or_default())
            .map(|a| a["labels"].clone())
            .collect()
    }

    /// Every alert this release's rules have active, as `(alert, job)`, asserting each carries
    /// the release's namespace and one of its jobs.
    pub(super) async fn assert_active_alerts_own(&self, prometheus: &Prometheus) {
        for (alert, _) in &self.rules {
            for labels in self.active(prometheus, alert).await {
                assert!(
                    labels["namespace"] == NAMESPACE
                        && labels["job"]
                            .as_str()
                            .is_some_and(|j| self.jobs.contains(&j.to_owned())),
                    "{} {alert} is active for {labels}",
                    self.file
                );
            }
        }
    }

    /// Waits until Prometheus's own evaluation has `alert` active for exactly `job`.
    pub(super) async fn wait_active(&self, prometheus: &Prometheus, alert: &str, job: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let active = self.active(prometheus, alert).await;
            if active.len() == 1 && active[0]["job"] == job && active[0]["namespace"] == NAMESPACE {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} {alert} never became active for {job}: {active:?}",
                self.file
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
