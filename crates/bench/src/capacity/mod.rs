//! `flowgate-bench --capacity`: what one core of Flowgate's API carries, measured against its own
//! limit rather than Temporal's. The API runs against the null frontend (a Temporal stand-in that
//! answers at once), pinned to one core with one runtime thread; the load generators and the null
//! frontend share the other core. In the same run, the floor — a minimal axum handler making the
//! same gRPC start — and a bare axum handler are measured the same way, and every figure is also
//! given as a ratio to the floor's.
//!
//! Each path is loaded by wrk at rising concurrency (closed loop: the highest throughput is the
//! capacity), then at a fixed low rate (CPU per request when the API is mostly idle) and at half
//! its capacity (latency in normal operation), both open loop from this process.

mod paths;
mod rate;
mod report;
mod sample;
mod stack;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::bail;

pub(crate) use paths::CapacityPath;
pub(crate) use report::CapacityReport;
use report::RunInfo;
use sample::{Phase, PhaseLoad, Sample};
use stack::{CapacityStack, LOAD_CORE, SUBJECT_CORE};

use crate::procstat::{self, MachineTicks};

/// How the capacity run is shaped.
pub(crate) struct CapacityOptions {
    /// Length of each measured phase.
    pub(crate) duration: Duration,
    /// Repetitions (the order of the paths rotates between them).
    pub(crate) repeat: u32,
    /// Unmeasured load on every path before the first repetition.
    pub(crate) warmup: Duration,
    /// wrk's connections, one phase each.
    pub(crate) concurrencies: Vec<u32>,
    /// The fixed low rate, requests per second.
    pub(crate) low_rate: f64,
    /// Only these paths (all when `None`).
    pub(crate) only: Option<Vec<CapacityPath>>,
}

/// Runs the capacity benchmark and writes `capacity.json` and `capacity.md` into `out`.
pub(crate) async fn run(
    bin_dir: &Path,
    out: &Path,
    work: &Path,
    options: &CapacityOptions,
) -> anyhow::Result<ExitCode> {
    eprintln!(
        "starting the null frontend, the API and the floor ({})",
        bin_dir.display()
    );
    let info = RunInfo::new(procstat::machine_description(), options);
    let stack = CapacityStack::start(bin_dir, work).await?;
    let bench = Capacity {
        stack: &stack,
        work: work.to_owned(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    };
    let paths: Vec<CapacityPath> = options
        .only
        .clone()
        .unwrap_or_else(|| CapacityPath::ALL.to_vec());
    for &path in &paths {
        bench.check(path).await?;
    }
    eprintln!("warming up");
    for &path in &paths {
        bench
            .measure(path, PhaseLoad::Closed { connections: 16 }, options.warmup)
            .await?;
    }
    let mut phases: Vec<Phase> = Vec::new();
    for rep in 0..options.repeat as usize {
        for k in 0..paths.len() {
            let path = paths[(k + rep) % paths.len()];
            let mut best: f64 = 0.0;
            let mut loads: Vec<PhaseLoad> = options
                .concurrencies
                .iter()
                .map(|&connections| PhaseLoad::Closed { connections })
                .collect();
            loads.push(PhaseLoad::LowRate {
                rate: options.low_rate,
            });
            loads.push(PhaseLoad::HalfCapacity { rate: 0.0 });
            for mut load in loads {
                if let PhaseLoad::HalfCapacity { rate } = &mut load {
                    *rate = (best / 2.0).max(1.0);
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                let sample = bench.measure(path, load, options.duration).await?;
                if matches!(load, PhaseLoad::Closed { .. }) {
                    best = best.max(sample.throughput);
                }
                eprintln!(
                    "rep {} {:<12} {:<22} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  {:>6.1} µs CPU/req  errors {}{}",
                    rep + 1,
                    path.name(),
                    load.to_string(),
                    sample.throughput,
                    sample.p50_ms,
                    sample.p99_ms,
                    sample.subject_cpu_us,
                    sample.errors,
                    if sample.disturbed { " (disturbed)" } else { "" }
                );
                match phases
                    .iter_mut()
                    .find(|p| p.path == path && p.load.same_kind(&load))
                {
                    Some(phase) => phase.reps.push(sample),
                    None => phases.push(Phase {
                        path,
                        load,
                        reps: vec![sample],
                    }),
                }
            }
        }
    }
    let report = CapacityReport::new(phases, info);
    report.write(out)?;
    eprintln!("{}", report.summary_table());
    eprintln!("written: {}/capacity.json, capacity.md", out.display());
    Ok(ExitCode::SUCCESS)
}

struct Capacity<'a> {
    stack: &'a CapacityStack,
    work: PathBuf,
    http: reqwest::Client,
}

impl Capacity<'_> {
    /// The base URL and process of `path`.
    fn subject(&self, path: CapacityPath) -> &crate::stack::Service {
        match path {
            CapacityPath::Bare | CapacityPath::Floor => &self.stack.floor,
            CapacityPath::AuthStart => &self.stack.api_auth,
            _ => &self.stack.api,
        }
    }

    /// One request of `path` must be answered as expected before anything is measured; with
    /// authentication on, one without the key must be refused.
    async fn check(&self, path: CapacityPath) -> anyhow::Result<()> {
        let base = &self.subject(path).url;
        let request = path.request(&self.stack.api_key);
        let send = |with_headers: bool| {
            let mut call = self.http.request(
                request.method.parse().expect("a method"),
                format!("{base}{}", request.path),
            );
            if with_headers {
                for (name, value) in &request.headers {
                    call = call.header(*name, value);
                }
            }
            if let Some(body) = &request.body {
                call = call
                    .header("content-type", "application/json")
                    .body(body.clone());
            }
            call.send()
        };
        let response = send(true).await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        if status != path.expected_status() || !body.contains(path.expected_text()) {
            bail!(
                "{} answered {status} (expected {} with {:?}): {body}",
                path.name(),
                path.expected_status(),
                path.expected_text()
            );
        }
        if path == CapacityPath::AuthStart {
            let status = send(false).await?.status().as_u16();
            if status != 401 {
                bail!(
                    "without its key, {} answered {status}, not 401",
                    path.name()
                );
            }
        }
        Ok(())
    }

    /// One phase: the load, and the CPU each process and each core used meanwhile.
    async fn measure(
        &self,
        path: CapacityPath,
        load: PhaseLoad,
        duration: Duration,
    ) -> anyhow::Result<Sample> {
        let subject = self.subject(path).pid()?;
        let frontend = self.stack.frontend.pid()?;
        let me = std::process::id();
        let cpu = |pid| procstat::cpu_ns(pid);
        let (subject_before, frontend_before, me_before) =
            (cpu(subject)?, cpu(frontend)?, cpu(me)?);
        let subject_ticks_before = procstat::cpu_ticks(subject)?;
        let (load_core_before, subject_core_before) = (
            MachineTicks::read_cpu(LOAD_CORE)?,
            MachineTicks::read_cpu(SUBJECT_CORE)?,
        );
        let base = &self.subject(path).url;
        let request = path.request(&self.stack.api_key);
        let (requests, errors, p50_ms, p99_ms, elapsed, loadgen_ns) = match load {
            PhaseLoad::Closed { connections } => {
                let tag = format!("{}-{}", path.name(), uuid::Uuid::new_v4().simple());
                let (summary, ticks) =
                    crate::wrk::run(base, &request, connections, duration, &tag, &self.work)
                        .await?;
                (
                    summary.requests,
                    summary.errors(),
                    summary.p50 as f64 / 1000.0,
                    summary.p99 as f64 / 1000.0,
                    Duration::from_micros(summary.duration_us),
                    (ticks as f64 / procstat::TICKS_PER_SECOND * 1e9) as u64,
                )
            }
            PhaseLoad::LowRate { rate } | PhaseLoad::HalfCapacity { rate } => {
                let run = rate::run(base, &request, rate, duration).await?;
                let own = cpu(me)?.saturating_sub(me_before);
                (
                    run.latencies.len() as u64 + run.errors,
                    run.errors,
                    run.latencies.percentile_ms(50.0),
                    run.latencies.percentile_ms(99.0),
                    run.elapsed,
                    own,
                )
            }
        };
        let subject_ns = cpu(subject)?.saturating_sub(subject_before);
        let frontend_ns = cpu(frontend)?.saturating_sub(frontend_before);
        let subject_ticks = procstat::cpu_ticks(subject)?.saturating_sub(subject_ticks_before);
        let load_core = load_core_before.until(MachineTicks::read_cpu(LOAD_CORE)?);
        let subject_core = subject_core_before.until(MachineTicks::read_cpu(SUBJECT_CORE)?);
        Ok(Sample::new(
            requests,
            errors,
            elapsed,
            (p50_ms, p99_ms),
            [subject_ns, frontend_ns, loadgen_ns],
            (load_core, subject_core, subject_ticks),
            load.offered_rate(),
        ))
    }
}
