//! The dashboards and alert rules under `deploy/`, checked with the real tools.

use std::{path::Path, process::Command};

use flowgate_deploy_checks::{alert_exprs, dashboard_exprs, deploy_dir};

/// promtool, or `None` (skip) unless FLOWGATE_REQUIRE_PROMETHEUS=1 demands it.
fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("promtool");
    }
    flowgate_devserver::skip::missing_tool(
        "promtool",
        "apt-get install prometheus",
        "FLOWGATE_REQUIRE_PROMETHEUS",
    );
    None
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

#[test]
fn the_alert_rules_are_valid_and_each_alert_fires_when_it_should() {
    let Some(promtool) = promtool() else { return };
    let dir = deploy_dir().join("prometheus");
    run(Command::new(promtool)
        .args(["check", "rules"])
        .arg(dir.join("alerts.yml")));
    let tested = run(Command::new(promtool)
        .args(["test", "rules"])
        .arg(dir.join("alerts_test.yml")));
    assert!(tested.contains("SUCCESS"), "{tested}");

    // Every alert has a unit test.
    let tests = std::fs::read_to_string(dir.join("alerts_test.yml")).unwrap();
    for alert in alert_exprs().unwrap() {
        let name = alert.origin.trim_start_matches("alerts.yml: ");
        assert!(
            tests.contains(&format!("alertname: {name}")),
            "{name} has no promtool test"
        );
    }
}

#[test]
fn every_alert_selects_flowgate_series_keeps_namespace_and_job_and_links_its_runbook() {
    let path = deploy_dir().join("prometheus/alerts.yml");
    let rules: serde_norway::Value =
        serde_norway::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let runbooks = std::fs::read_to_string(deploy_dir().join("../docs/runbooks.md")).unwrap();
    let mut count = 0;
    for rule in rules["groups"][0]["rules"].as_sequence().unwrap() {
        let alert = rule["alert"].as_str().unwrap();
        let expr = rule["expr"].as_str().unwrap();
        // Every metric selector (a `{` right after a name) starts with Flowgate's jobs, the
        // matcher the chart replaces.
        for (i, _) in expr.match_indices('{') {
            if expr[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                assert!(
                    expr[i + 1..].starts_with(r#"job=~"flowgate-(api|worker)""#),
                    "{alert}: {}",
                    &expr[i..]
                );
            }
        }
        for by in expr.match_indices(" by (") {
            let group = &expr[by.0 + 5..];
            let group = &group[..group.find(')').unwrap()];
            assert!(group.starts_with("namespace, job"), "{alert}: by ({group})");
        }
        let anchor = alert.to_lowercase();
        assert_eq!(
            rule["annotations"]["runbook_url"].as_str(),
            Some(
                format!("https://github.com/flowgate/flowgate/blob/main/docs/runbooks.md#{anchor}")
                    .as_str()
            ),
            "{alert}"
        );
        assert!(
            runbooks.contains(&format!("\n## {alert}\n")),
            "docs/runbooks.md has no section {alert}"
        );
        count += 1;
    }
    assert_eq!(count, 8);
}

#[test]
fn every_dashboard_expression_is_valid_promql() {
    let Some(promtool) = promtool() else { return };
    let exprs = dashboard_exprs().unwrap();
    assert!(
        exprs.len() >= 25,
        "all four dashboards are read: {}",
        exprs.len()
    );
    // promtool checks PromQL inside rule files: one recording rule per panel expression.
    let mut rules = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: {}\n",
            serde_json::to_string(&expr.promql).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboards.yml");
    std::fs::write(&file, rules).unwrap();
    run(Command::new(promtool).args(["check", "rules"]).arg(&file));
}

#[test]
fn the_checked_in_dashboards_are_what_the_generator_produces() {
    let dir = tempfile::tempdir().unwrap();
    let script = deploy_dir().join("grafana/generate.py");
    run(Command::new("python3").arg(&script).arg(dir.path()));
    let checked_in = deploy_dir().join("grafana/dashboards");
    let mut count = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let generated = entry.unwrap().path();
        let name = generated.file_name().unwrap();
        let expected = std::fs::read_to_string(&generated).unwrap();
        let actual = std::fs::read_to_string(checked_in.join(name)).unwrap_or_default();
        assert!(
            actual == expected,
            "{} drifted from generate.py: run `python3 deploy/grafana/generate.py`",
            Path::new(name).display()
        );
        count += 1;
    }
    assert_eq!(
        count,
        std::fs::read_dir(&checked_in).unwrap().count(),
        "no stale dashboards"
    );
}

#[test]
fn every_dashboard_has_a_prometheus_datasource_variable_used_by_every_panel() {
    for entry in std::fs::read_dir(deploy_dir().join("grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let board: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let variables = board["templating"]["list"].as_array().unwrap();
        assert!(
            variables.iter().any(|v| v["type"] == "datasource"
                && v["query"] == "prometheus"
                && v["name"] == "datasource"),
            "{}",
            path.display()
        );
        for panel in board["panels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] != "row")
        {
            assert_eq!(
                panel["datasource"]["uid"],
                "${datasource}",
                "{}: {}",
                path.display(),
                panel["title"]
            );
        }
    }
}
