//! actionlint over every workflow: no finding passes.

use flowgate_deploy_checks::tools;

use crate::{output, workflow_files};

#[test]
fn actionlint_finds_nothing_in_the_workflows() {
    let Some(actionlint) = tools::actionlint_or_skip() else {
        return;
    };
    let files = workflow_files();
    assert!(files.len() >= 2, "the CI and release workflows: {files:?}");
    let (ok, findings) = output(&mut actionlint.command(&files));
    assert!(ok, "actionlint findings:\n{findings}");
    assert!(
        findings.contains(&format!("{} workflow file(s), 0 finding(s)", files.len())),
        "{findings}"
    );
}

#[test]
fn actionlint_reports_a_broken_workflow() {
    let Some(actionlint) = tools::actionlint_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    // An unknown runner label, an undefined context property, a job needing a missing job.
    std::fs::write(
        &broken,
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-40.04\n    needs: [nowhere]\n    steps:\n      - run: echo \"${{ github.no_such_property }}\"\n",
    )
    .unwrap();
    let (ok, findings) = output(&mut actionlint.command([&broken]));
    assert!(!ok, "a broken workflow passed:\n{findings}");
    for expected in ["ubuntu-40.04", "no_such_property", "nowhere"] {
        assert!(
            findings.contains(expected),
            "{expected} not reported:\n{findings}"
        );
    }
    let (ok, text) = output(&mut actionlint.command(Vec::<String>::new()));
    assert!(!ok, "no file named, yet it passed: {text}");
}
