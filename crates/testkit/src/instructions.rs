//! Instruction budgets: a Flowgate binary of the build under valgrind's callgrind, the
//! instructions it executes read from dumps of the running process, and a checked-in budget file
//! they are held to (`crates/bench/instruction-budget.toml` for the API,
//! `crates/worker/instruction-budget.toml` for the worker).
//!
//! A budget file has `max_ratio` and `min_ratio` at the top and one section per build profile
//! (`[debug]`, `[release]`) of `key = instructions`. A figure above budget × `max_ratio` fails
//! (a regression), one below budget × `min_ratio` fails too (update the budget to lock the
//! improvement in: `FLOWGATE_UPDATE_BUDGET=1` rewrites the measured section).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Whether valgrind and `callgrind_control` are installed; if not, reports the test as skipped
/// (or fails it under `FLOWGATE_REQUIRE_VALGRIND=1`).
pub fn callgrind_available() -> bool {
    let runs = |tool: &str, arg: &str| {
        std::process::Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let found = runs("valgrind", "--version") && runs("callgrind_control", "-h");
    if !found {
        flowgate_devserver::skip::missing_tool(
            "valgrind",
            "apt-get install valgrind",
            "FLOWGATE_REQUIRE_VALGRIND",
        );
    }
    found
}

/// The binary `name` to measure and its build profile (`debug`, `release`): from the directory
/// of `sibling` (a `CARGO_BIN_EXE_*` path of the calling crate, so the binaries of this build), or
/// `FLOWGATE_INSTRUCTIONS_BIN_DIR` when set (a relative directory is the workspace's, e.g.
/// `target/release`). `cargo test -p <crate>` builds only the tested crate's binaries, so a
/// binary of another crate may be older than the code checked out: one older than any source
/// file it was built from (its `.d` file lists them) is refused rather than measured.
pub fn fresh_binary(name: &str, sibling: &str) -> (PathBuf, String) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("FLOWGATE_INSTRUCTIONS_BIN_DIR").map_or_else(
        || Path::new(sibling).with_file_name(""),
        |dir| workspace.join(dir),
    );
    let profile = dir
        .components()
        .next_back()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let binary = dir.join(name);
    let build = if profile == "debug" {
        format!("cargo build -p {name}")
    } else {
        format!("cargo build --profile {profile} -p {name}")
    };
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let built = modified(&binary).unwrap_or_else(|| {
        panic!(
            "{} is missing: build it first (`{build}`)",
            binary.display()
        )
    });
    let sources = std::fs::read_to_string(dir.join(format!("{name}.d"))).unwrap_or_default();
    let sources = sources.split_once(": ").map_or("", |(_, list)| list);
    if let Some(newer) = sources
        .split_whitespace()
        .map(Path::new)
        .find(|source| modified(source).is_some_and(|m| m > built))
    {
        panic!(
            "{} is older than {}: build it first (`{build}`)",
            binary.display(),
            newer.display()
        );
    }
    (binary, profile)
}

/// The dumps of one process running under `valgrind --tool=callgrind`.
pub struct Callgrind {
    pid: u32,
    out: PathBuf,
    dumps: u32,
}

impl Callgrind {
    /// The process `pid`, started with `--callgrind-out-file=<out>`.
    pub fn new(pid: u32, out: &Path) -> Self {
        Self {
            pid,
            out: out.to_owned(),
            dumps: 0,
        }
    }

    /// Asks callgrind for a dump (its counters restart from zero) and returns the instructions it
    /// holds.
    pub async fn dump(&mut self) -> u64 {
        let status = tokio::process::Command::new("callgrind_control")
            .arg("-d")
            .arg(self.pid.to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .unwrap();
        assert!(
            status.success(),
            "callgrind_control -d failed (it reaches the process through ptrace: as root, or with \
             kernel.yama.ptrace_scope = 0)"
        );
        self.dumps += 1;
        let file = PathBuf::from(format!("{}.{}", self.out.display(), self.dumps));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if let Some(total) = text.lines().find_map(|l| l.strip_prefix("totals: ")) {
                return total.split_whitespace().next().unwrap().parse().unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no dump in {} (callgrind_control reaches the process through ptrace: as root, or \
                 with kernel.yama.ptrace_scope = 0)",
                file.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Holds `measured` (instructions per `unit`, by key) to the `[profile]` section of the budget
/// file at `path`, or rewrites that section with them when `FLOWGATE_UPDATE_BUDGET=1`.
pub fn check_budget(path: &str, profile: &str, unit: &str, measured: &[(&str, u64)]) {
    let budget_text = std::fs::read_to_string(path).unwrap();
    let budget: toml::Table = toml::from_str(&budget_text).unwrap();
    if std::env::var("FLOWGATE_UPDATE_BUDGET").is_ok_and(|v| v == "1") {
        std::fs::write(path, updated(&budget_text, profile, measured)).unwrap();
        eprintln!("updated {path} [{profile}]: {measured:?}");
        return;
    }
    let ratio = |key: &str| budget[key].as_float().unwrap();
    let (max_ratio, min_ratio) = (ratio("max_ratio"), ratio("min_ratio"));
    let section = budget
        .get(profile)
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| {
            panic!("{path} has no [{profile}] section: add it with FLOWGATE_UPDATE_BUDGET=1")
        });
    let mut report = String::new();
    let mut failures = Vec::new();
    for (key, per_unit) in measured {
        let allowed = section
            .get(*key)
            .and_then(toml::Value::as_integer)
            .unwrap_or(0) as f64;
        let r = *per_unit as f64 / allowed.max(1.0);
        report.push_str(&format!(
            "{key:<12} {per_unit:>12} instructions/{unit}, budget {allowed:>12.0} ({r:.3}×)\n"
        ));
        if r > max_ratio {
            failures.push(format!("{key}: {r:.3}× the budget (above {max_ratio}×)"));
        } else if r < min_ratio {
            failures.push(format!(
                "{key}: {r:.3}× the budget (below {min_ratio}×): lock the improvement in with FLOWGATE_UPDATE_BUDGET=1"
            ));
        }
    }
    eprint!("{report}");
    assert!(
        failures.is_empty(),
        "instruction budget ({path}, [{profile}]):\n{report}{}",
        failures.join("\n")
    );
}

/// The budget file with `[profile]`'s figures replaced by `measured` (comments kept; the
/// section and keys are added when missing).
fn updated(text: &str, profile: &str, measured: &[(&str, u64)]) -> String {
    let header = format!("[{profile}]");
    let mut out: Vec<String> = Vec::new();
    let mut in_section = false;
    // Where the section's last key/value line went: missing keys follow it.
    let mut section_end = None;
    let mut written: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            in_section = line.trim() == header;
        }
        let key = line.split('=').next().unwrap_or_default().trim();
        match measured.iter().find(|(k, _)| *k == key) {
            Some((k, value)) if in_section => {
                out.push(format!("{k} = {value}"));
                written.push(k);
            }
            _ => out.push(line.to_owned()),
        }
        if in_section && (line.trim() == header || line.contains('=')) {
            section_end = Some(out.len());
        }
    }
    let missing = measured
        .iter()
        .filter(|(k, _)| !written.contains(k))
        .map(|(k, v)| format!("{k} = {v}"));
    match section_end {
        Some(end) => {
            let tail = out.split_off(end);
            out.extend(missing);
            out.extend(tail);
        }
        None => {
            out.push(String::new());
            out.push(header);
            out.extend(missing);
        }
    }
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_rewrites_only_the_measured_section() {
        let text = "# c\nmax_ratio = 1.15\n\n[debug]\nasync_start = 1\nrejected = 2\n";
        let new = updated(text, "debug", &[("async_start", 10), ("rejected", 20)]);
        assert_eq!(
            new,
            "# c\nmax_ratio = 1.15\n\n[debug]\nasync_start = 10\nrejected = 20\n"
        );
        let added = updated(text, "debug", &[("sync_start", 3)]);
        assert_eq!(
            added,
            "# c\nmax_ratio = 1.15\n\n[debug]\nasync_start = 1\nrejected = 2\nsync_start = 3\n"
        );
        let release = updated(text, "release", &[("async_start", 5)]);
        assert!(
            release.ends_with(
                "[debug]\nasync_start = 1\nrejected = 2\n\n[release]\nasync_start = 5\n"
            ),
            "{release}"
        );
    }
}
