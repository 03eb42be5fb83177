//! `.github/renovate.json`: valid for Renovate's own schema, and covering every kind of
//! dependency the repository pins.

use std::process::Command;

use flowgate_deploy_checks::{repo_root, tools};
use serde_json::Value;

use crate::output;

fn config() -> Value {
    let text = std::fs::read_to_string(repo_root().join(".github/renovate.json")).unwrap();
    serde_json::from_str(&text).expect(".github/renovate.json is JSON")
}

#[test]
fn renovate_config_is_valid_for_renovate_schema() {
    let Some(schema) = tools::renovate_schema_or_skip() else {
        return;
    };
    let Some(python) = tools::python_with_or_skip(
        &["jsonschema"],
        "pip install -r crates/deploy-checks/requirements.txt",
    ) else {
        return;
    };
    let validate = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        config = json.load(open(sys.argv[2]))\n\
        errors = list(jsonschema.Draft7Validator(schema).iter_errors(config))\n\
        for e in errors: print('/'.join(map(str, e.absolute_path)) or '(root)', e.message[:300])\n\
        sys.exit(1 if errors else 0)";
    let (ok, errors) = output(Command::new(&python).args([
        "-c".as_ref(),
        validate.as_ref(),
        schema.as_os_str(),
        ".github/renovate.json".as_ref(),
    ]));
    assert!(ok, "renovate.json against Renovate's schema:\n{errors}");

    // The same check refuses a misspelt option.
    let mut wrong = config();
    wrong["pinDigest"] = Value::Bool(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renovate.json");
    std::fs::write(&path, wrong.to_string()).unwrap();
    let (ok, errors) = output(Command::new(&python).args([
        "-c".as_ref(),
        validate.as_ref(),
        schema.as_os_str(),
        path.as_os_str(),
    ]));
    assert!(!ok && errors.contains("pinDigest"), "{errors}");
}

#[test]
fn renovate_updates_crates_base_images_by_digest_actions_chart_images_and_test_tools() {
    let config = config();
    let managers: Vec<&str> = config["enabledManagers"]
        .as_array()
        .expect("enabledManagers")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for manager in [
        "cargo",
        "dockerfile",
        "github-actions",
        "helm-values",
        "pip_requirements",
        "npm",
    ] {
        assert!(managers.contains(&manager), "{manager} is not updated");
    }
    assert_eq!(
        config["pinDigests"],
        Value::Bool(true),
        "images pinned by digest"
    );
    let extends = config["extends"].to_string();
    assert!(
        extends.contains("helpers:pinGitHubActionDigestsToSemver"),
        "{extends}"
    );
    // The chart's own images are released by this repository, never bumped by Renovate.
    let rules = config["packageRules"].as_array().unwrap();
    assert!(rules.iter().any(|r| {
        r["enabled"] == Value::Bool(false)
            && r["matchPackageNames"]
                .to_string()
                .contains("ghcr.io/flowgate/**")
    }));
    // The Rust toolchain moves as one: the Dockerfile's image and rust-toolchain.toml.
    let custom = config["customManagers"].to_string();
    assert!(custom.contains("rust-toolchain") && custom.contains("RUSTUP_TOOLCHAIN"));
    // The pip manager's default pattern finds the requirements file.
    assert!(
        repo_root()
            .join("crates/deploy-checks/requirements.txt")
            .is_file()
    );
}
