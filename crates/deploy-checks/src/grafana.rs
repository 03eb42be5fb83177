//! Grafana dashboards as Grafana reads them: their template variables and every panel's query,
//! with the variables interpolated the way Grafana's Prometheus data source does it.
//!
//! Only what Flowgate's dashboards use is supported: a `datasource` variable, `query` variables
//! of the form `label_values(<selector>, <label>)` (multi-value, with "All"), and
//! `$__rate_interval`.

use std::collections::BTreeMap;

use anyhow::Context;

/// A dashboard's variables and queries.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The file it came from, e.g. `flowgate-api.json`.
    pub file: String,
    /// Its title.
    pub title: String,
    /// Its `label_values(…)` variables, in the order Grafana resolves them.
    pub variables: Vec<Variable>,
    /// Every query of every panel.
    pub targets: Vec<Target>,
}

/// A `label_values(<selector>, <label>)` variable.
#[derive(Debug, Clone)]
pub struct Variable {
    /// Its name (`namespace` for `$namespace`).
    pub name: String,
    /// The series whose label values it offers, e.g. `flowgate_build_info{namespace=~"$namespace"}`.
    pub selector: String,
    /// The label whose values it offers.
    pub label: String,
    /// What "All" stands for when set (`.*`); otherwise "All" is every value it offers.
    pub all_value: Option<String>,
}

/// One query of one panel.
#[derive(Debug, Clone)]
pub struct Target {
    /// `<file>: <panel title>`.
    pub origin: String,
    /// The query as written, variables and all.
    pub expr: String,
}

impl Dashboard {
    /// Reads a dashboard's JSON.
    pub fn parse(file: &str, json: &str) -> anyhow::Result<Self> {
        let board: serde_json::Value =
            serde_json::from_str(json).with_context(|| format!("{file} is not JSON"))?;
        let mut variables = Vec::new();
        for variable in board["templating"]["list"].as_array().into_iter().flatten() {
            if variable["type"] != "query" {
                continue;
            }
            let name = variable["name"]
                .as_str()
                .context("a variable without name")?;
            let query = variable["query"]["query"]
                .as_str()
                .or_else(|| variable["query"].as_str())
                .with_context(|| format!("{file}: ${name} has no query"))?;
            let (selector, label) = label_values(query)
                .with_context(|| format!("{file}: ${name} is not label_values(…): {query}"))?;
            variables.push(Variable {
                name: name.to_owned(),
                selector,
                label,
                all_value: variable["allValue"].as_str().map(str::to_owned),
            });
        }
        let mut targets = Vec::new();
        for panel in board["panels"].as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                targets.push(Target {
                    origin: format!("{file}: {}", panel["title"].as_str().unwrap_or("?")),
                    expr: target["expr"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
        Ok(Self {
            file: file.to_owned(),
            title: board["title"].as_str().unwrap_or_default().to_owned(),
            variables,
            targets,
        })
    }
}

/// `(selector, label)` of `label_values(selector, label)`.
fn label_values(query: &str) -> Option<(String, String)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    Some((selector.trim().to_owned(), label.trim().to_owned()))
}

/// How Grafana's Prometheus data source writes a multi-value variable into a query: each value
/// with the regular-expression characters escaped, joined by `|`, in parentheses when several.
pub fn regex_value(values: &[String]) -> String {
    let escaped: Vec<String> = values
        .iter()
        .map(|value| {
            let mut out = String::new();
            // Backslashes doubled: the query is a PromQL string, where `\\` is one backslash.
            for c in value.chars() {
                if c == '\\' {
                    out.push_str("\\\\\\\\");
                } else if "^$*+?.()|{}[]".contains(c) {
                    out.push_str("\\\\");
                    out.push(c);
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect();
    match escaped.as_slice() {
        [one] => one.clone(),
        many => format!("({})", many.join("|")),
    }
}

/// `text` with `$name` and `${name}` replaced by `values[name]` (longest names first) and
/// `$__rate_interval` by `rate_interval`.
pub fn interpolate(text: &str, values: &BTreeMap<String, String>, rate_interval: &str) -> String {
    let mut out = text
        .replace("${__rate_interval}", rate_interval)
        .replace("$__rate_interval", rate_interval);
    let mut names: Vec<&String> = values.keys().collect();
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    for name in names {
        out = out
            .replace(&format!("${{{name}}}"), &values[name])
            .replace(&format!("${name}"), &values[name]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_targets_are_read_and_interpolated_as_grafana_does() {
        let json = r#"{"title": "T", "templating": {"list": [
            {"name": "datasource", "type": "datasource"},
            {"name": "namespace", "type": "query", "allValue": ".*",
             "query": {"query": "label_values(flowgate_build_info, namespace)"}},
            {"name": "job", "type": "query",
             "query": {"query": "label_values(flowgate_build_info{namespace=~\"$namespace\"}, job)"}}
        ]}, "panels": [{"title": "P", "targets": [
            {"expr": "sum(rate(x_total{namespace=~\"$namespace\", job=~\"$job\"}[$__rate_interval]))"}
        ]}]}"#;
        let board = Dashboard::parse("b.json", json).unwrap();
        assert_eq!(board.variables.len(), 2);
        assert_eq!(
            board.variables[1].selector,
            r#"flowgate_build_info{namespace=~"$namespace"}"#
        );
        assert_eq!(board.variables[1].label, "job");
        assert_eq!(board.variables[0].all_value.as_deref(), Some(".*"));
        let values = BTreeMap::from([
            ("namespace".to_owned(), ".*".to_owned()),
            (
                "job".to_owned(),
                regex_value(&["a-api".to_owned(), "a.worker".to_owned()]),
            ),
        ]);
        assert_eq!(
            interpolate(&board.targets[0].expr, &values, "1m"),
            r#"sum(rate(x_total{namespace=~".*", job=~"(a-api|a\\.worker)"}[1m]))"#
        );
        assert_eq!(board.targets[0].origin, "b.json: P");
    }
}
