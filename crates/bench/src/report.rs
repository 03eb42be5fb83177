//! `results.json` and `results.md`: every repetition, the medians, the ratios against the floor
//! measured in the same run, and the targets.

use std::{fmt::Write as _, path::Path, time::Duration};

use serde::Serialize;
use serde_json::Value;

use crate::scenario::{ScenarioResult, Target};

/// The short hash of the checked-out commit, when in a git work tree.
pub(crate) fn current_commit() -> Option<String> {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// One target and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TargetCheck {
    /// What is measured.
    pub(crate) name: String,
    /// The measured value.
    pub(crate) value: f64,
    /// The limit.
    pub(crate) limit: f64,
    /// `>=` or `<=`.
    pub(crate) comparison: &'static str,
    /// Whether it holds.
    pub(crate) met: bool,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// When (UTC).
    pub(crate) date: String,
    /// The machine.
    pub(crate) machine: String,
    /// The commit measured, when known.
    pub(crate) commit: Option<String>,
    /// Length of each phase, seconds.
    pub(crate) phase_seconds: f64,
    /// Repetitions of each phase.
    pub(crate) repeat: u32,
    /// Every scenario.
    pub(crate) scenarios: Vec<ScenarioResult>,
    /// Resident memory after the run.
    pub(crate) rss: Value,
    /// The targets.
    pub(crate) targets: Vec<TargetCheck>,
}

impl Report {
    /// Summarises a run.
    pub(crate) fn new(
        scenarios: &[ScenarioResult],
        rss: Value,
        phase: Duration,
        repeat: u32,
    ) -> Self {
        let commit = current_commit();
        let mut report = Self {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            machine: crate::procstat::machine_description(),
            commit,
            phase_seconds: phase.as_secs_f64(),
            repeat,
            scenarios: scenarios.to_vec(),
            rss,
            targets: Vec::new(),
        };
        report.targets = report.check_targets();
        report
    }

    fn find(&self, scenario: &str, target: Target, c: u32, items: u32) -> Option<&ScenarioResult> {
        self.scenarios.iter().find(|s| {
            s.scenario == scenario && s.target == target && s.concurrency == c && s.items == items
        })
    }

    fn check_targets(&self) -> Vec<TargetCheck> {
        let mut out = Vec::new();
        let mut check = |name: String, value: f64, limit: f64, at_least: bool| {
            out.push(TargetCheck {
                name,
                value,
                limit,
                comparison: if at_least { ">=" } else { "<=" },
                met: if at_least {
                    value >= limit
                } else {
                    value <= limit
                },
            });
        };
        for c in [1, 16, 64] {
            let (Some(f), Some(g), Some(h)) = (
                self.find("async-start", Target::Flowgate, c, 1),
                self.find("async-start", Target::TemporalGrpc, c, 1),
                self.find("async-start", Target::TemporalHttp, c, 1),
            ) else {
                continue;
            };
            check(
                format!("async start c={c}: throughput ÷ Temporal gRPC"),
                f.median.throughput / g.median.throughput.max(1e-9),
                0.95,
                true,
            );
            check(
                format!("async start c={c}: throughput ÷ Temporal HTTP API"),
                f.median.throughput / h.median.throughput.max(1e-9),
                0.95,
                true,
            );
            check(
                format!("async start c={c}: added p50 vs Temporal gRPC (ms)"),
                f.median.p50_ms - g.median.p50_ms,
                1.0,
                false,
            );
            check(
                format!("async start c={c}: api CPU per start (ms)"),
                f.median.api_cpu_ms.unwrap_or_default(),
                0.1,
                false,
            );
        }
        for s in self.scenarios.iter().filter(|s| s.scenario == "sync-start") {
            let (c, items) = (s.concurrency, s.items);
            check(
                format!("sync start {items} item(s) c={c}: api CPU per call (ms)"),
                s.median.api_cpu_ms.unwrap_or_default(),
                0.2,
                false,
            );
            if items == 1 {
                check(
                    format!("sync start 1 item c={c}: worker CPU per workflow (ms)"),
                    s.median.worker_cpu_ms,
                    2.0,
                    false,
                );
            }
        }
        let mib = |key: &str| self.rss[key].as_f64().unwrap_or_default();
        check(
            "api RSS after the run (MiB, larger of the two)".to_owned(),
            mib("api_start_mib").max(mib("api_sync_mib")),
            20.0,
            false,
        );
        check(
            "worker RSS after the run (MiB)".to_owned(),
            mib("worker_mib"),
            40.0,
            false,
        );
        out
    }

    /// The targets as lines for the terminal.
    pub(crate) fn targets_text(&self) -> String {
        let mut out = String::new();
        for t in &self.targets {
            let _ = writeln!(
                out,
                "{} {:<62} {:>9.3} (target {} {})",
                if t.met { "met " } else { "MISS" },
                t.name,
                t.value,
                t.comparison,
                t.limit
            );
        }
        out
    }

    /// Writes `results.json` and `results.md` into `dir`.
    pub(crate) fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        std::fs::write(dir.join("results.md"), self.markdown())?;
        Ok(())
    }

    /// The markdown tables.
    pub(crate) fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmark results\n");
        let _ = writeln!(
            md,
            "{} · {} · commit {} · {} repetitions of {} s per phase, medians shown. Generated by `crates/bench/run`.\n",
            self.date,
            self.machine,
            self.commit.as_deref().unwrap_or("unknown"),
            self.repeat,
            self.phase_seconds
        );
        let _ = writeln!(md, "## Async start: Flowgate beside direct Temporal\n");
        let _ = writeln!(
            md,
            "| Concurrency | Flowgate req/s | Temporal gRPC req/s | Temporal HTTP req/s | ÷ gRPC | ÷ HTTP | Flowgate p50 / p99 ms | gRPC p50 / p99 ms | HTTP p50 / p99 ms | added p50 vs gRPC ms |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for c in [1, 16, 64] {
            let (Some(f), Some(g), Some(h)) = (
                self.find("async-start", Target::Flowgate, c, 1),
                self.find("async-start", Target::TemporalGrpc, c, 1),
                self.find("async-start", Target::TemporalHttp, c, 1),
            ) else {
                continue;
            };
            let (f, g, h) = (&f.median, &g.median, &h.median);
            let _ = writeln!(
                md,
                "| {c} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:+.2} |",
                f.throughput,
                g.throughput,
                h.throughput,
                f.throughput / g.throughput.max(1e-9),
                f.throughput / h.throughput.max(1e-9),
                f.p50_ms,
                f.p99_ms,
                g.p50_ms,
                g.p99_ms,
                h.p50_ms,
                h.p99_ms,
                f.p50_ms - g.p50_ms
            );
        }
        let _ = writeln!(md, "\n## Every scenario\n");
        let _ = writeln!(
            md,
            "| Scenario | Target | Conc. | Items | req/s | p50 ms | p99 ms | Errors | CPU ms/req api | worker | Temporal | load generator | Disturbed reps |"
        );
        let _ = writeln!(
            md,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for s in &self.scenarios {
            let m = &s.median;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} ({:.2} %) | {} | {:.3} | {:.3} | {:.3} | {} of {} |",
                s.scenario,
                s.target.label(),
                s.concurrency,
                s.items,
                m.throughput,
                m.p50_ms,
                m.p99_ms,
                m.errors,
                m.error_rate * 100.0,
                m.api_cpu_ms
                    .map_or_else(|| "–".to_owned(), |v| format!("{v:.3}")),
                m.worker_cpu_ms,
                m.temporal_cpu_ms,
                m.loadgen_cpu_ms,
                s.reps.iter().filter(|r| r.disturbed).count(),
                s.reps.len()
            );
        }
        let _ = writeln!(md, "\n## Memory after the run (RSS, MiB)\n");
        let _ = writeln!(
            md,
            "| API (async starts) | API (sync, result) | Worker | Temporal dev server |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|");
        let mib = |key: &str| self.rss[key].as_f64().unwrap_or_default();
        let _ = writeln!(
            md,
            "| {:.1} | {:.1} | {:.1} | {:.1} |",
            mib("api_start_mib"),
            mib("api_sync_mib"),
            mib("worker_mib"),
            mib("temporal_mib")
        );
        let _ = writeln!(md, "\n## Targets\n");
        let _ = writeln!(md, "| Target | Measured | Limit | Met |");
        let _ = writeln!(md, "|---|---:|---:|---|");
        for t in &self.targets {
            let _ = writeln!(
                md,
                "| {} | {:.3} | {} {} | {} |",
                t.name,
                t.value,
                t.comparison,
                t.limit,
                if t.met { "yes" } else { "**no**" }
            );
        }
        md
    }
}
