//! Reads Flowgate's deployment files — Grafana dashboards and Prometheus alert rules under
//! `deploy/`, the `Dockerfile` and `docker-compose.yml` — so tests can check them with the real
//! tools (promtool, a real Prometheus, hadolint, Docker Compose) and against what the binaries
//! really export and accept.

pub mod compose;
pub mod dockerfile;
pub mod grafana;
pub mod helm;
pub mod promql;
pub mod tools;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use anyhow::Context;

/// The repository's `deploy/` directory.
pub fn deploy_dir() -> PathBuf {
    repo_root().join("deploy")
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A PromQL expression and where it comes from.
#[derive(Debug, Clone)]
pub struct Expr {
    /// `file: panel or alert name`.
    pub origin: String,
    /// The expression, with Grafana's `$__rate_interval` replaced by `1m`.
    pub promql: String,
}

/// Every expression of every dashboard panel.
pub fn dashboard_exprs() -> anyhow::Result<Vec<Expr>> {
    let dir = deploy_dir().join("grafana/dashboards");
    let mut exprs = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let board: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for panel in board["panels"].as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let promql = target["expr"]
                    .as_str()
                    .unwrap_or_default()
                    .replace("$__rate_interval", "1m");
                exprs.push(Expr {
                    origin: format!("{file}: {}", panel["title"].as_str().unwrap_or("?")),
                    promql,
                });
            }
        }
    }
    Ok(exprs)
}

/// Every alert rule's expression in `deploy/prometheus/alerts.yml`.
pub fn alert_exprs() -> anyhow::Result<Vec<Expr>> {
    let path = deploy_dir().join("prometheus/alerts.yml");
    let rules: serde_norway::Value = serde_norway::from_slice(&std::fs::read(&path)?)?;
    let mut exprs = Vec::new();
    for group in rules["groups"].as_sequence().into_iter().flatten() {
        for rule in group["rules"].as_sequence().into_iter().flatten() {
            exprs.push(Expr {
                origin: format!("alerts.yml: {}", rule["alert"].as_str().unwrap_or("?")),
                promql: rule["expr"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    Ok(exprs)
}

/// Words after which a parenthesised list names labels, not metrics.
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Words that are not metric names (with [`GROUPING`]).
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    // Aggregations, which may stand before `by (...)` instead of their argument list.
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

/// Metric names an expression reads: identifiers that are neither functions nor keywords, with
/// label matchers, grouping clauses, ranges and strings stripped first.
pub fn metric_names(promql: &str) -> BTreeSet<String> {
    let mut cleaned = String::new();
    let mut depth_brace = 0;
    let mut in_string = None;
    let mut in_range = false;
    for c in promql.chars() {
        match (in_string, c) {
            (Some(q), c) if c == q => in_string = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => in_string = Some(c),
            (None, '{') => depth_brace += 1,
            (None, '}') => depth_brace -= 1,
            (None, '[') => in_range = true,
            (None, ']') => in_range = false,
            (None, c) if depth_brace == 0 && !in_range => cleaned.push(c),
            _ => {}
        }
    }
    let mut names = BTreeSet::new();
    let mut skip_group = false;
    let chars: Vec<char> = cleaned.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
            let lower = word.to_ascii_lowercase();
            if GROUPING.contains(&lower.as_str()) {
                skip_group = true;
            } else if next != Some('(') && !KEYWORDS.contains(&lower.as_str()) && !skip_group {
                names.insert(word);
            }
        } else if c.is_ascii_digit() || c == '.' {
            // A number such as `0.95` or `1e-9`: its letters are not names.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else {
            if c == ')' {
                skip_group = false;
            }
            i += 1;
        }
    }
    names
}

/// Series the Temporal SDK only creates once what they measure happened — a failed workflow
/// task, a failed RPC, a forced eviction or a miss of the sticky cache, a workflow task that had
/// to replay history — so a short healthy run has none. Names as the worker exports them and
/// queries read them (SDK names, `temporal_` prefix, `_total`, `_seconds_bucket`).
pub const EVENT_ONLY_METRICS: &[&str] = &[
    "temporal_workflow_task_execution_failed_total",
    "temporal_request_failure_total",
    "temporal_long_request_failure_total",
    "temporal_sticky_cache_miss_total",
    "temporal_sticky_cache_total_forced_eviction_total",
    "temporal_workflow_task_replay_latency_seconds_bucket",
];

/// Every metric name any dashboard panel or alert rule uses, but `up` and the
/// [`EVENT_ONLY_METRICS`].
pub fn deploy_metric_names() -> anyhow::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for expr in dashboard_exprs()?.into_iter().chain(alert_exprs()?) {
        names.extend(metric_names(&expr.promql));
    }
    names.remove("up");
    for name in EVENT_ONLY_METRICS {
        names.remove(*name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_skip_functions_labels_and_groupings() {
        let names = metric_names(
            r#"histogram_quantile(0.95, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{http_route!~"/a|/b"}[5m]))) > 0.5 or (sum(temporal_num_pollers{poller_type="workflow_task"}) or vector(0)) == 0 / clamp_min(x_total, 1e-9)"#,
        );
        let names: Vec<_> = names.into_iter().collect();
        assert_eq!(
            names,
            [
                "http_server_request_duration_seconds_bucket",
                "temporal_num_pollers",
                "x_total"
            ]
        );
    }
}
