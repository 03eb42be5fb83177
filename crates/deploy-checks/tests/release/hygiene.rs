//! Every workflow: no token permission unless a job asks for it, every job bounded in time, every
//! action pinned by full commit with its version beside it.

use flowgate_deploy_checks::repo_root;
use serde_norway::Value;

use crate::{workflow_files, yaml};

#[test]
fn workflows_grant_no_permission_by_default_and_every_job_names_its_own() {
    for file in workflow_files() {
        let path = file.to_string_lossy();
        let workflow = yaml(&path);
        assert_eq!(
            workflow["permissions"].as_mapping().map(|m| m.len()),
            Some(0),
            "{path}: top-level `permissions: {{}}`"
        );
        assert!(
            workflow["concurrency"]["group"].is_string(),
            "{path}: a concurrency group"
        );
        for (name, job) in workflow["jobs"].as_mapping().expect("jobs") {
            let name = name.as_str().unwrap_or("?");
            assert!(
                job["permissions"].is_mapping(),
                "{path}: job {name} names its permissions"
            );
            for (scope, level) in job["permissions"].as_mapping().unwrap() {
                assert!(
                    matches!(level.as_str(), Some("read" | "write" | "none")),
                    "{path}: {name}: {scope:?}"
                );
            }
            let calls_workflow = job["uses"].is_string();
            assert!(
                calls_workflow || job["timeout-minutes"].as_u64().is_some_and(|m| m <= 360),
                "{path}: job {name} needs a timeout-minutes"
            );
            for step in job["steps"].as_sequence().into_iter().flatten() {
                if let Value::String(run) = &step["run"] {
                    assert!(
                        !run.contains("${{"),
                        "{path}: {name}: pass expressions to `run:` through `env:`, not inline: {run}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_action_is_pinned_by_full_commit_with_its_version_in_a_comment() {
    for file in workflow_files() {
        let text = std::fs::read_to_string(repo_root().join(&file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let Some(uses) = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses: ")
            else {
                continue;
            };
            if uses.starts_with("./") {
                continue; // a workflow of this repository
            }
            let (action, rest) = uses.split_once('@').unwrap_or((uses, ""));
            let (commit, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
            let at = format!("{}:{}: {action}", file.display(), n + 1);
            assert!(
                commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
                "{at}: pin a full commit SHA, not {commit:?}"
            );
            assert!(
                comment.starts_with('v') && comment[1..].split('.').count() == 3,
                "{at}: name the exact version in a comment (`# v1.2.3`), not {comment:?}"
            );
        }
    }
}
