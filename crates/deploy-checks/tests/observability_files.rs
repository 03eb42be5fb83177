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
