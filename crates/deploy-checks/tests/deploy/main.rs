//! The deployment bundle — `Dockerfile` and `docker-compose.yml` — checked with the real tools
//! (hadolint, Docker Compose's own loader and validator, promtool) and against the real binaries.
//!
//! Missing tools skip their test with the install command, unless
//! `FLOWGATE_REQUIRE_DEPLOY_TOOLS=1` (CI) makes that a failure.

mod checkov;
mod compose;
mod contract;
mod dockerfile;
mod helm;
mod helm_alerts;
mod helm_auth;
mod helm_container;
mod helm_contract;
mod helm_disruption;
mod helm_extensions;
mod helm_files;
mod helm_keda;
mod helm_notes;
mod helm_objects;
mod helm_platform;
mod helm_profiles;
mod helm_rollout;
mod helm_test_pod;
mod helm_trust;
mod helm_values;
mod helm_wiring;
mod processes;
mod stack_config;

use std::process::Command;

/// Runs `command`, returning its exit status success and combined output.
pub(crate) fn output(command: &mut Command) -> (bool, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
