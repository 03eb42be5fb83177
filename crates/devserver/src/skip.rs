//! Tests whose tool is missing: skipped visibly, or failed where the tool is required.
//!
//! Every tool a test needs has a `FLOWGATE_REQUIRE_<TOOL>=1` variable (CI sets them all): with
//! it, a missing tool fails the test; without it, the test reports `SKIPPED: <test> (<tool> not
//! found; …)` on the terminal — past the test harness's output capture, so a run always shows
//! what it did not test — and returns without asserting anything.

use std::io::Write as _;

/// Reports `tool` as missing for the running test: panics when `require_env` is `1`, else prints
/// the `SKIPPED:` line. `install` says how to get the tool.
pub fn missing_tool(tool: &str, install: &str, require_env: &str) {
    let required = std::env::var(require_env).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{tool} not found and {require_env}=1: install it with `{install}`"
    );
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<test>");
    // Written to the process's stderr directly: `eprintln!` would be captured with the test's
    // output and shown only if it failed.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED: {test} ({tool} not found; install it with `{install}`)"
    );
}
