//! The chart's PrometheusRule in a shared cluster: every rule selects the release's own series,
//! each alert can be tuned or switched off, and the rendered rules are valid for promtool.

use std::process::Command;

use flowgate_deploy_checks::{
    helm::{Render, profile_path},
    tools,
};
use serde_json::json;
use serde_norway::Value;

use crate::{helm_values::address, helm_values::merged, output};

fn rules(rule: &Value) -> Vec<&Value> {
    rule["spec"]["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .collect()
}

fn named<'a>(rules: &[&'a Value], alert: &str) -> Option<&'a Value> {
    rules
        .iter()
        .copied()
        .find(|r| r["alert"].as_str() == Some(alert))
}

#[test]
fn every_rule_selects_the_release_own_series_and_passes_promtool() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let rendered = Render::files([profile_path("monitoring")])
        .set(address())
        .release("shop")
        .objects(&python)
        .unwrap();
    let rule = rendered.get("PrometheusRule", "shop-flowgate").unwrap();
    let namespace = rule["metadata"]["namespace"].as_str().unwrap();
    let selector =
        format!(r#"namespace="{namespace}", job=~"shop-flowgate-api|shop-flowgate-worker""#);
    let all = rules(rule);
    assert_eq!(all.len(), 8, "{all:?}");
    for r in &all {
        let alert = r["alert"].as_str().unwrap();
        let expr = r["expr"].as_str().unwrap();
        assert!(!expr.contains("flowgate-(api|worker)"), "{expr}");
        // Each metric selector (a `{` right after a metric name) starts with the release's
        // matchers.
        let selectors: Vec<&str> = expr
            .match_indices('{')
            .filter(|(i, _)| {
                expr[..*i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .map(|(i, _)| &expr[i + 1..])
            .collect();
        assert!(!selectors.is_empty(), "{expr}");
        for rest in selectors {
            assert!(rest.starts_with(&selector), "{alert}: {rest}");
        }
        assert_eq!(
            r["annotations"]["runbook_url"].as_str().unwrap(),
            format!(
                "https://github.com/flowgate/flowgate/blob/main/docs/runbooks.md#{}",
                alert.to_lowercase()
            )
        );
    }
    // The ServiceMonitor's jobs are the Services' names, which the selector names.
    let monitor = rendered.get("ServiceMonitor", "shop-flowgate").unwrap();
    assert!(monitor["spec"]["jobLabel"].is_null(), "{monitor:?}");
    for service in ["shop-flowgate-api", "shop-flowgate-worker"] {
        rendered.get("Service", service).unwrap();
    }

    if !output(Command::new("promtool").arg("--version")).0 {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(
        &file,
        serde_norway::to_string(&serde_norway::Mapping::from_iter([(
            Value::from("groups"),
            rule["spec"]["groups"].clone(),
        )]))
        .unwrap(),
    )
    .unwrap();
    let (ok, text) = output(Command::new("promtool").args(["check", "rules"]).arg(&file));
    assert!(ok && text.contains("8 rules found"), "{text}");
}

#[test]
fn each_alert_can_be_tuned_switched_off_and_pointed_at_other_runbooks() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let values = merged(
        address(),
        json!({"metrics": {"prometheusRule": {
            "selector": r#"cluster="eu", job=~"shop-.*""#,
            "runbookBaseUrl": "https://wiki.example.com/flowgate/",
            "rules": {
                "FlowgateHighLatency": {"for": "30m", "severity": "info"},
                "FlowgateWebhookDeliveriesFailing": {"enabled": false},
            },
        }}}),
    );
    let rendered = Render::files([profile_path("monitoring")])
        .set(values)
        .objects(&python)
        .unwrap();
    let rule = rendered.get("PrometheusRule", "flowgate").unwrap();
    let all = rules(rule);
    assert!(named(&all, "FlowgateWebhookDeliveriesFailing").is_none());
    let latency = named(&all, "FlowgateHighLatency").unwrap();
    assert_eq!(latency["for"].as_str(), Some("30m"));
    assert_eq!(latency["labels"]["severity"].as_str(), Some("info"));
    assert!(
        latency["expr"]
            .as_str()
            .unwrap()
            .contains(r#"{cluster="eu", job=~"shop-.*", http_route!~"#)
    );
    let errors = named(&all, "FlowgateHighErrorRate").unwrap();
    assert_eq!(errors["for"].as_str(), Some("5m"));
    assert_eq!(
        errors["annotations"]["runbook_url"].as_str(),
        Some("https://wiki.example.com/flowgate#flowgatehigherrorrate")
    );
}

#[test]
fn no_worker_alert_is_left_out_when_keda_may_scale_the_worker_to_zero() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let render = |over: serde_json::Value| {
        let rendered = Render::files([profile_path("monitoring"), profile_path("keda")])
            .set(merged(address(), over))
            .objects(&python)
            .unwrap();
        let rule = rendered.get("PrometheusRule", "flowgate").unwrap().clone();
        rules(&rule)
            .iter()
            .filter_map(|r| r["alert"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    // minReplicas 1: a missing worker is an incident.
    let at_least_one = render(json!({}));
    assert!(at_least_one.contains(&"FlowgateNoWorker".to_owned()));
    // Scale to zero: no worker is normal without backlog; the polling alert stays (it needs a
    // worker target to fire).
    let to_zero = render(json!({"worker": {"autoscaling": {"minReplicas": 0}}}));
    assert!(
        !to_zero.contains(&"FlowgateNoWorker".to_owned()),
        "{to_zero:?}"
    );
    assert!(to_zero.contains(&"FlowgateNoWorkerPolling".to_owned()));
    // Unless asked for explicitly.
    let forced = render(json!({
        "worker": {"autoscaling": {"minReplicas": 0}},
        "metrics": {"prometheusRule": {"rules": {"FlowgateNoWorker": {"enabled": true}}}},
    }));
    assert!(forced.contains(&"FlowgateNoWorker".to_owned()));
}
