//! checkov on the Helm chart rendered with every values profile and on the Dockerfile: zero
//! findings beyond the justified ones of `deploy/checkov/skips.yaml`, and no entry there that
//! matches nothing any more.

use std::{collections::BTreeSet, process::Command};

use flowgate_deploy_checks::{deploy_dir, dockerfile::dockerfile_path, tools};
use serde_norway::Value;

use crate::helm::{matrix, render};

/// One accepted finding kind.
struct Skip {
    check: String,
    resources: Vec<String>,
}

fn skips() -> Vec<Skip> {
    let path = deploy_dir().join("checkov/skips.yaml");
    let entries: Vec<Value> =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    entries
        .iter()
        .map(|entry| {
            let reason = entry["reason"].as_str().unwrap_or_default();
            let check = entry["check"].as_str().unwrap().to_owned();
            assert!(reason.len() > 40, "{check}: the skip needs a real reason");
            Skip {
                check,
                resources: entry["resources"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect(),
            }
        })
        .collect()
}

/// `*` matches any text (including none); everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Failed checks of a checkov JSON report: (check id, resource, file).
fn failures(report: &str) -> (Vec<(String, String, String)>, usize) {
    let parsed: serde_json::Value =
        serde_json::from_str(report).unwrap_or_else(|e| panic!("checkov JSON: {e}\n{report}"));
    let reports = match parsed {
        serde_json::Value::Array(reports) => reports,
        single => vec![single],
    };
    let mut failed = Vec::new();
    let mut passed = 0;
    for report in &reports {
        passed += report["results"]["passed_checks"]
            .as_array()
            .map_or(0, Vec::len);
        for check in report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            failed.push((
                check["check_id"].as_str().unwrap().to_owned(),
                check["resource"].as_str().unwrap().to_owned(),
                check["file_path"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    (failed, passed)
}

fn checkov(bin: &std::path::Path, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(bin)
        .args(args)
        .args(["--skip-download", "--compact", "-o", "json"])
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
        .output()
        .unwrap();
    // Exit 1 means findings; anything else is checkov failing.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "checkov failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn checkov_finds_nothing_unjustified_in_the_chart_or_the_dockerfile() {
    let Some(bin) = tools::checkov_or_skip() else {
        return;
    };
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // checkov skips directories whose name starts with a dot, as tempfile's do by default.
    let dir = tempfile::Builder::new()
        .prefix("checkov-")
        .tempdir()
        .unwrap();
    for (name, how) in matrix() {
        let rendered = render(&python, name, &how);
        std::fs::write(dir.path().join(format!("{name}.yaml")), &rendered.stream).unwrap();
    }
    let (mut failed, chart_passed) = failures(&checkov(
        &bin,
        &[
            "-d".as_ref(),
            dir.path().as_os_str(),
            "--framework".as_ref(),
            "kubernetes".as_ref(),
        ],
    ));
    let (docker_failed, docker_passed) = failures(&checkov(
        &bin,
        &[
            "-f".as_ref(),
            dockerfile_path().as_os_str(),
            "--framework".as_ref(),
            "dockerfile".as_ref(),
        ],
    ));
    assert!(
        chart_passed > 100 && docker_passed > 20,
        "checkov ran no checks"
    );
    failed.extend(docker_failed);

    let skips = skips();
    let unjustified: Vec<_> = failed
        .iter()
        .filter(|(check, resource, _)| {
            !skips
                .iter()
                .any(|s| &s.check == check && s.resources.iter().any(|r| glob(r, resource)))
        })
        .collect();
    assert!(
        unjustified.is_empty(),
        "checkov findings not justified in deploy/checkov/skips.yaml:\n{unjustified:#?}"
    );
    let used: BTreeSet<(&str, &str)> = skips
        .iter()
        .flat_map(|s| {
            s.resources
                .iter()
                .map(move |r| (s.check.as_str(), r.as_str()))
        })
        .filter(|(check, pattern)| {
            failed
                .iter()
                .any(|(c, resource, _)| c == check && glob(pattern, resource))
        })
        .collect();
    for skip in &skips {
        for resource in &skip.resources {
            assert!(
                used.contains(&(skip.check.as_str(), resource.as_str())),
                "deploy/checkov/skips.yaml: {} {resource} matches no finding any more: remove it",
                skip.check
            );
        }
    }
}

#[test]
fn the_skip_patterns_match_as_documented() {
    assert!(glob("Deployment.*", "Deployment.flowgate.flowgate-api"));
    assert!(glob("Pod.*.flowgate-test", "Pod.flowgate.flowgate-test"));
    assert!(!glob("Pod.*.flowgate-test", "Pod.flowgate.flowgate-api"));
    assert!(glob(
        "Deployment.*.flowgate-temporal",
        "Deployment.flowgate.flowgate-temporal"
    ));
    assert!(!glob("Deployment.*", "Pod.flowgate.flowgate-api"));
    assert!(glob("*", ""));
}
