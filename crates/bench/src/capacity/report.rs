//! `capacity.json` and `capacity.md`: every phase, and per path what one core carries, each
//! figure also as a ratio to the floor measured in the same run.

use std::{fmt::Write as _, path::Path};

use serde::{Deserialize, Serialize};

use super::{
    CapacityOptions, CapacityPath,
    sample::{Phase, PhaseLoad, Sample},
};

/// What one path carries on one core.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PathCapacity {
    /// The path.
    pub(crate) path: CapacityPath,
    /// The highest median throughput of the closed-loop phases: req/s on one core.
    pub(crate) max_rps: f64,
    /// The connections it was reached with.
    pub(crate) saturation_connections: u32,
    /// CPU µs per request of the measured process there.
    pub(crate) cpu_us_saturated: f64,
    /// 1 s ÷ that: what a core free of other load would carry.
    pub(crate) core_rps_from_cpu: f64,
    /// CPU µs per request at the fixed low rate.
    pub(crate) cpu_us_low_rate: Option<f64>,
    /// CPU µs per request with one connection.
    pub(crate) cpu_us_one_connection: Option<f64>,
    /// Median latency with one connection, ms.
    pub(crate) p50_one_connection_ms: Option<f64>,
    /// The rate of the half-capacity phase.
    pub(crate) half_rate: Option<f64>,
    /// Latency there, ms.
    pub(crate) p50_half_ms: Option<f64>,
    /// Latency there, ms.
    pub(crate) p99_half_ms: Option<f64>,
    /// How busy the load core was at saturation (near 1.0, the load generator may be the limit).
    pub(crate) load_core_busy_at_saturation: f64,
    /// Each figure ÷ the floor's (when the floor was measured).
    pub(crate) vs_floor: Option<Ratios>,
}

/// A path's figures ÷ the floor's.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ratios {
    /// Max throughput.
    pub(crate) max_rps: f64,
    /// CPU per request at saturation.
    pub(crate) cpu_us_saturated: f64,
    /// CPU per request at the low rate.
    pub(crate) cpu_us_low_rate: Option<f64>,
    /// p50 at half capacity.
    pub(crate) p50_half_ms: Option<f64>,
}

/// One phase with its median.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PhaseOut {
    #[serde(flatten)]
    phase: Phase,
    median: Sample,
}

/// When and where a run was made, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunInfo {
    /// When (UTC).
    pub(crate) date: String,
    /// The machine.
    pub(crate) machine: String,
    /// The commit measured, when known.
    pub(crate) commit: Option<String>,
    /// Where each process ran.
    pub(crate) placement: String,
    /// Length of each phase, seconds.
    pub(crate) phase_seconds: f64,
    /// Repetitions of each phase.
    pub(crate) repeat: u32,
    /// The fixed low rate, requests per second.
    pub(crate) low_rate: f64,
}

impl RunInfo {
    /// A run starting now on this machine (`machine` read before anything was pinned).
    pub(crate) fn new(machine: String, options: &CapacityOptions) -> Self {
        Self {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            machine,
            commit: crate::report::current_commit(),
            placement: PLACEMENT.to_owned(),
            phase_seconds: options.duration.as_secs_f64(),
            repeat: options.repeat,
            low_rate: options.low_rate,
        }
    }
}

/// Everything one capacity run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CapacityReport {
    #[serde(flatten)]
    info: RunInfo,
    capacity: Vec<PathCapacity>,
    phases: Vec<PhaseOut>,
}

/// What `capacity.json` keeps of a run: enough to summarise it again.
#[derive(Debug, Deserialize)]
struct Saved {
    #[serde(flatten)]
    info: RunInfo,
    phases: Vec<Phase>,
}

/// Where every process runs.
const PLACEMENT: &str = "core 1: the measured process (Flowgate's API, one runtime thread; or \
    the floor, one thread); core 0: wrk, the open-loop load generator and the null frontend";

impl CapacityReport {
    /// Summarises the phases of a run.
    pub(crate) fn new(phases: Vec<Phase>, info: RunInfo) -> Self {
        let phases: Vec<PhaseOut> = phases
            .into_iter()
            .map(|phase| PhaseOut {
                median: phase.median(),
                phase,
            })
            .collect();
        let mut capacity: Vec<PathCapacity> = CapacityPath::ALL
            .into_iter()
            .filter_map(|path| summarise(path, &phases))
            .collect();
        let floor = capacity
            .iter()
            .find(|c| c.path == CapacityPath::Floor)
            .cloned();
        if let Some(floor) = floor {
            let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?.max(1e-9));
            for c in &mut capacity {
                c.vs_floor = Some(Ratios {
                    max_rps: c.max_rps / floor.max_rps.max(1e-9),
                    cpu_us_saturated: c.cpu_us_saturated / floor.cpu_us_saturated.max(1e-9),
                    cpu_us_low_rate: ratio(c.cpu_us_low_rate, floor.cpu_us_low_rate),
                    p50_half_ms: ratio(c.p50_half_ms, floor.p50_half_ms),
                });
            }
        }
        Self {
            info,
            capacity,
            phases,
        }
    }

    /// The report of an earlier run, summarised again from its `capacity.json`.
    pub(crate) fn from_json(text: &str) -> anyhow::Result<Self> {
        let saved: Saved = serde_json::from_str(text)?;
        Ok(Self::new(saved.phases, saved.info))
    }

    /// Writes `capacity.json` and `capacity.md` into `dir`.
    pub(crate) fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::write(
            dir.join("capacity.json"),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        std::fs::write(dir.join("capacity.md"), self.markdown())?;
        Ok(())
    }

    /// The summary, as markdown (also for the terminal).
    pub(crate) fn summary_table(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "| Path | Max req/s on one core | ÷ floor | 1 s ÷ CPU/req (req/s of a free core) | CPU µs/req at saturation | ÷ floor | CPU µs/req at {:.0} req/s | ÷ floor | CPU µs/req, 1 connection | p50 ms, 1 connection | p50 / p99 ms at half capacity | p50 ÷ floor |",
            self.info.low_rate
        );
        let _ = writeln!(
            md,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let num = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
        };
        for c in &self.capacity {
            let r = c.vs_floor.as_ref();
            let _ = writeln!(
                md,
                "| {} | {:.0} | {} | {:.0} | {:.1} | {} | {} | {} | {} | {} | {} / {} | {} |",
                c.path.label(),
                c.max_rps,
                num(r.map(|r| r.max_rps), 2),
                c.core_rps_from_cpu,
                c.cpu_us_saturated,
                num(r.map(|r| r.cpu_us_saturated), 2),
                num(c.cpu_us_low_rate, 1),
                num(r.and_then(|r| r.cpu_us_low_rate), 2),
                num(c.cpu_us_one_connection, 1),
                num(c.p50_one_connection_ms, 2),
                num(c.p50_half_ms, 2),
                num(c.p99_half_ms, 2),
                num(r.and_then(|r| r.p50_half_ms), 2),
            );
        }
        md
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Capacity of one API core\n");
        let _ = writeln!(
            md,
            "{} · {} · commit {} · {} repetition(s) of {} s per phase, medians shown. Generated by `crates/bench/run --capacity`; how to read it: [docs/benchmark.md](../benchmark.md#capacity).\n",
            self.info.date,
            self.info.machine,
            self.info.commit.as_deref().unwrap_or("unknown"),
            self.info.repeat,
            self.info.phase_seconds
        );
        let _ = writeln!(
            md,
            "Placement: {}. Temporal is the null frontend, which answers at once: these are the API's own limits, not Temporal's. \"Max req/s\" is what the core gave while other processes of the machine also ran on it (\"others on core 1\" below); \"1 s ÷ CPU/req\" is what a core left to the API alone would carry.\n",
            self.info.placement
        );
        let _ = writeln!(md, "## What one core carries\n");
        md.push_str(&self.summary_table());
        let _ = writeln!(md, "\n## Every phase\n");
        let _ = writeln!(
            md,
            "| Path | Load | req/s | p50 ms | p99 ms | Errors | CPU µs/req (measured process) | null frontend | load generator | core 1 busy | others on core 1 | core 0 busy | Disturbed reps |"
        );
        let _ = writeln!(
            md,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for p in &self.phases {
            let m = &p.median;
            let load = match p.phase.load {
                PhaseLoad::HalfCapacity { .. } => PhaseLoad::HalfCapacity {
                    rate: m.offered_rate.unwrap_or_default(),
                }
                .to_string(),
                other => other.to_string(),
            };
            let _ = writeln!(
                md,
                "| {} | {load} | {:.0} | {:.2} | {:.2} | {} | {:.1} | {:.1} | {:.1} | {:.0} % | {:.0} % | {:.0} % | {} of {} |",
                p.phase.path.name(),
                m.throughput,
                m.p50_ms,
                m.p99_ms,
                m.errors,
                m.subject_cpu_us,
                m.frontend_cpu_us,
                m.loadgen_cpu_us,
                m.subject_core_busy * 100.0,
                m.subject_core_other * 100.0,
                m.load_core_busy * 100.0,
                p.phase.reps.iter().filter(|r| r.disturbed).count(),
                p.phase.reps.len()
            );
        }
        md
    }
}

/// The capacity of `path` from its phases' medians, if it was measured.
fn summarise(path: CapacityPath, phases: &[PhaseOut]) -> Option<PathCapacity> {
    let of = |want: &dyn Fn(&PhaseLoad) -> bool| {
        phases
            .iter()
            .find(|p| p.phase.path == path && want(&p.phase.load))
            .map(|p| &p.median)
    };
    let (saturation, connections) = phases
        .iter()
        .filter(|p| p.phase.path == path)
        .filter_map(|p| match p.phase.load {
            PhaseLoad::Closed { connections } => Some((&p.median, connections)),
            _ => None,
        })
        .max_by(|a, b| a.0.throughput.total_cmp(&b.0.throughput))?;
    let low = of(&|l| matches!(l, PhaseLoad::LowRate { .. }));
    let one = of(&|l| matches!(l, PhaseLoad::Closed { connections: 1 }));
    let half = of(&|l| matches!(l, PhaseLoad::HalfCapacity { .. }));
    Some(PathCapacity {
        path,
        max_rps: saturation.throughput,
        saturation_connections: connections,
        cpu_us_saturated: saturation.subject_cpu_us,
        core_rps_from_cpu: 1e6 / saturation.subject_cpu_us.max(1e-9),
        cpu_us_low_rate: low.map(|s| s.subject_cpu_us),
        cpu_us_one_connection: one.map(|s| s.subject_cpu_us),
        p50_one_connection_ms: one.map(|s| s.p50_ms),
        half_rate: half.and_then(|s| s.offered_rate),
        p50_half_ms: half.map(|s| s.p50_ms),
        p99_half_ms: half.map(|s| s.p99_ms),
        load_core_busy_at_saturation: saturation.load_core_busy,
        vs_floor: None,
    })
}
