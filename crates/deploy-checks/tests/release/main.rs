//! The release pipeline — `.github/workflows`, `.github/renovate.json` and `CHANGELOG.md` —
//! checked with actionlint and Renovate's schema, and against what it publishes: the images the
//! chart deploys by default, the chart's version and the workspace's.
//!
//! Missing tools skip their test with the install command, unless
//! `FLOWGATE_REQUIRE_DEPLOY_TOOLS=1` (CI) makes that a failure.

mod actionlint;
mod agreement;
mod changelog;
mod hygiene;
mod renovate;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use flowgate_deploy_checks::repo_root;
use serde_norway::Value;

/// The workflow files, relative to the repository root (`.github/workflows/ci.yml`, …).
pub(crate) fn workflow_files() -> Vec<PathBuf> {
    let dir = repo_root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| Path::new(".github/workflows").join(p.file_name().unwrap()))
        .collect();
    files.sort();
    files
}

/// A workflow file, parsed.
pub(crate) fn workflow(name: &str) -> Value {
    yaml(&format!(".github/workflows/{name}"))
}

/// A YAML file of the repository, parsed.
pub(crate) fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(path))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The steps of `job` in `workflow`.
pub(crate) fn steps<'a>(workflow: &'a Value, job: &str) -> &'a [Value] {
    workflow["jobs"][job]["steps"]
        .as_sequence()
        .unwrap_or_else(|| panic!("job {job} has no steps"))
}

/// The step of `steps` that uses the action `action` (`owner/repo`, any ref).
pub(crate) fn step_using<'a>(steps: &'a [Value], action: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.split('@').next() == Some(action))
        })
        .unwrap_or_else(|| panic!("no step uses {action}"))
}

/// Runs `command` from the repository root: its success and combined output.
pub(crate) fn output(command: &mut Command) -> (bool, String) {
    let out = command
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
