//! The chart's files: the monitoring objects carry the repository's own alert rules and
//! dashboards (the chart's copies are byte-for-byte the repository's), `values.schema.json`
//! describes every value and the chart README documents it.

use std::collections::BTreeSet;

use flowgate_deploy_checks::{
    deploy_dir,
    helm::{Render, chart_dir, profile_path},
    tools,
};
use serde_norway::Value;

use crate::{helm_objects::name_of, helm_values::address};
#[test]
fn monitoring_objects_carry_the_repository_alert_rules_and_dashboards() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // The chart's copies are the repository's files, byte for byte (Helm reads only files
    // inside the chart).
    let chart_files = chart_dir().join("files");
    assert_eq!(
        std::fs::read_to_string(chart_files.join("alerts.yml")).unwrap(),
        std::fs::read_to_string(deploy_dir().join("prometheus/alerts.yml")).unwrap(),
        "deploy/helm/flowgate/files/alerts.yml differs from deploy/prometheus/alerts.yml: copy it"
    );
    let dashboards = |dir: std::path::PathBuf| -> BTreeSet<(String, String)> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&path).unwrap(),
                )
            })
            .collect()
    };
    let repository_dashboards = dashboards(deploy_dir().join("grafana/dashboards"));
    assert_eq!(
        dashboards(chart_files.join("dashboards")),
        repository_dashboards,
        "deploy/helm/flowgate/files/dashboards/ differs from deploy/grafana/dashboards/: copy them"
    );

    let rendered = Render::files([profile_path("monitoring")])
        .set(address())
        .objects(&python)
        .unwrap();
    let rule = rendered.get("PrometheusRule", "flowgate").unwrap();
    // The repository's rules, selecting this release's namespace and Services instead of the
    // compose stack's jobs.
    let alerts: Value = serde_norway::from_str(
        &std::fs::read_to_string(deploy_dir().join("prometheus/alerts.yml"))
            .unwrap()
            .replace(
                r#"job=~"flowgate-(api|worker)""#,
                &format!(
                    r#"namespace="{}", job=~"flowgate-api|flowgate-worker""#,
                    rule["metadata"]["namespace"].as_str().unwrap()
                ),
            ),
    )
    .unwrap();
    assert_eq!(rule["spec"]["groups"], alerts["groups"]);
    assert_eq!(
        rule["metadata"]["labels"]["release"].as_str(),
        Some("kube-prometheus-stack")
    );
    let monitor = rendered.get("ServiceMonitor", "flowgate").unwrap();
    assert_eq!(
        monitor["metadata"]["labels"]["release"].as_str(),
        Some("kube-prometheus-stack")
    );
    assert_eq!(
        monitor["spec"]["endpoints"][0]["interval"].as_str(),
        Some("30s")
    );

    // The ConfigMaps carry the repository's dashboards, but for a uid and a title naming the
    // namespace and release, so that two releases do not collide in Grafana, and the release's
    // selector in every query and both variables, so that they show only its own series.
    let namespace = rule["metadata"]["namespace"].as_str().unwrap();
    let scope = format!(r#"namespace="{namespace}", job=~"flowgate-api|flowgate-worker""#);
    let scope_in_json = serde_json::to_string(&scope).unwrap();
    let scope_in_json = &scope_in_json[1..scope_in_json.len() - 1];
    let mut shipped = std::collections::BTreeMap::new();
    let mut uids = BTreeSet::new();
    for config_map in rendered.of_kind("ConfigMap") {
        if config_map["metadata"]["labels"]["grafana_dashboard"].as_str() != Some("1") {
            continue;
        }
        assert!(name_of(config_map).len() <= 63);
        for (file, json) in config_map["data"].as_mapping().unwrap() {
            let file = file.as_str().unwrap().to_owned();
            let json = json.as_str().unwrap();
            let scoped: serde_json::Value = serde_json::from_str(json).unwrap();
            let targets = scoped["panels"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
                .collect::<Vec<_>>();
            let mut selectors = 0;
            for target in &targets {
                let expr = target["expr"].as_str().unwrap();
                assert!(expr.contains(&scope), "{file}: {expr}");
                selectors += expr.matches(&scope).count();
            }
            // Nowhere else than in the queries and the variables' definitions, queries and
            // descriptions.
            let variables = scoped["templating"]["list"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["type"] == "query")
                .count();
            assert_eq!(
                json.matches(scope_in_json).count(),
                selectors + 3 * variables,
                "{file}"
            );
            let unscoped = json
                .replace(&format!("{{{scope_in_json}}}"), "")
                .replace(&format!("{scope_in_json}, "), "");
            let mut board: serde_json::Value = serde_json::from_str(&unscoped).unwrap();
            let stem = file.trim_end_matches(".json");
            let uid = board["uid"].as_str().unwrap().to_owned();
            assert!(
                uid.starts_with(&format!("{stem}-")) && uid.len() == stem.len() + 9,
                "{uid}"
            );
            assert!(
                uid.len() <= 40,
                "Grafana uids are at most 40 characters: {uid}"
            );
            uids.insert(uid);
            let title = board["title"].as_str().unwrap().to_owned();
            let suffix = format!(" ({namespace}/flowgate)");
            assert!(title.ends_with(&suffix), "{title}");
            board["uid"] = stem.into();
            board["title"] = title.trim_end_matches(&suffix).into();
            shipped.insert(file, board);
        }
    }
    assert_eq!(uids.len(), 4, "{uids:?}");
    let parsed: std::collections::BTreeMap<String, serde_json::Value> = repository_dashboards
        .into_iter()
        .map(|(f, text)| (f, serde_json::from_str(&text).unwrap()))
        .collect();
    assert_eq!(
        shipped, parsed,
        "the dashboard ConfigMaps carry the repository's dashboards"
    );
    // Another release in the same namespace gets other uids.
    let other = Render::files([profile_path("monitoring")])
        .set(address())
        .release("other")
        .objects(&python)
        .unwrap();
    let other_uids: BTreeSet<String> = other
        .of_kind("ConfigMap")
        .into_iter()
        .filter(|c| c["metadata"]["labels"]["grafana_dashboard"].as_str() == Some("1"))
        .flat_map(|c| c["data"].as_mapping().unwrap().values())
        .map(|json| {
            let board: serde_json::Value = serde_json::from_str(json.as_str().unwrap()).unwrap();
            board["uid"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(other_uids.len(), 4, "{other_uids:?}");
    assert!(
        other_uids.is_disjoint(&uids),
        "two releases share dashboard uids: {other_uids:?}"
    );
}

/// Every path of values.schema.json, e.g. `api.autoscaling.enabled`, and whether it is a leaf
/// (a value rather than a group of values).
fn schema_paths(schema: &serde_json::Value, prefix: &str, out: &mut Vec<(String, bool)>) {
    if let Some(properties) = schema["properties"].as_object() {
        for (key, sub) in properties {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            out.push((path.clone(), sub["properties"].is_null()));
            schema_paths(sub, &path, out);
        }
    }
}

#[test]
fn the_schema_describes_and_the_chart_readme_documents_every_value() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(chart_dir().join("values.schema.json")).unwrap(),
    )
    .unwrap();
    let values: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap())
            .unwrap();
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    let mut paths = Vec::new();
    schema_paths(&schema, "", &mut paths);
    let mut missing = Vec::new();
    for (path, leaf) in &paths {
        let mut node = &schema;
        for key in path.split('.') {
            node = &node["properties"][key];
        }
        assert!(
            node["description"].as_str().is_some_and(|d| d.len() > 10),
            "values.schema.json: {path} has no description"
        );
        if *leaf && !readme.contains(&format!("`{path}`")) {
            missing.push(path.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "deploy/helm/flowgate/README.md does not document: {missing:#?}"
    );
    // And every value of values.yaml is in the schema (strict: the schema would refuse it).
    let mut value_paths = Vec::new();
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        if let Some(map) = v.as_object() {
            for (k, sub) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(path.clone());
                if !path.starts_with("config.")
                    && !path.ends_with("resources")
                    && !path.ends_with("SecurityContext")
                    && path != "securityContext"
                {
                    walk(sub, &path, out);
                }
            }
        }
    }
    walk(&values, "", &mut value_paths);
    for path in value_paths {
        assert!(
            paths.iter().any(|(p, _)| *p == path),
            "values.yaml has {path}, which values.schema.json does not describe"
        );
    }
}
