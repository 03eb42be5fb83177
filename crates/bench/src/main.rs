//! `flowgate-bench`: load through Flowgate beside the same load sent straight to Temporal, in
//! one run on one machine; writes `results.json`, `results.md` (and, with `--soak`, `soak.json`
//! and `soak.md`; with `--capacity`, `capacity.json` and `capacity.md`) into `--out`.
//! `crates/bench/run` builds the release binaries, runs this and draws the plot.

mod capacity;
mod grpc;
mod procstat;
mod report;
mod scenario;
mod soak;
mod stack;
mod wrk;

use std::{
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::json;

use crate::{
    procstat::{MachineTicks, TICKS_PER_SECOND},
    scenario::{Rep, ScenarioResult, Target},
    stack::{START_ONLY_QUEUE, Service, Stack},
    wrk::HttpRequest,
};

/// Benchmark Flowgate against direct Temporal.
#[derive(Debug, Parser)]
#[command(name = "flowgate-bench", version, about)]
struct Cli {
    /// Where the results go.
    #[arg(long, default_value = "docs/benchmark")]
    out: PathBuf,
    /// Directory holding the `flowgate-api` and `flowgate-worker` binaries.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Length of each measured phase.
    #[arg(long, default_value = "10s", value_parser = humantime_duration)]
    duration: Duration,
    /// Repetitions of every phase (interleaved across targets).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Unmeasured load on every path before the first repetition.
    #[arg(long, default_value = "2s", value_parser = humantime_duration)]
    warmup: Duration,
    /// Only these scenarios, comma-separated: `async-start`, `sync-start`, `result` (with
    /// `--capacity`: `bare`, `floor`, `async-start`, `sync-start`, `result`, `describe`,
    /// `auth-start`).
    #[arg(long)]
    only: Option<String>,
    /// Extra environment of the API processes, `NAME=value` (repeatable), e.g. to measure what
    /// a setting costs: `--api-env RUST_LOG=warn`.
    #[arg(long = "api-env", value_name = "NAME=VALUE")]
    api_env: Vec<String>,
    /// Extra environment of the worker process, `NAME=value` (repeatable).
    #[arg(long = "worker-env", value_name = "NAME=VALUE")]
    worker_env: Vec<String>,
    /// Instead of the benchmark: steady mixed load for this long (e.g. `10m`).
    #[arg(long, value_parser = humantime_duration)]
    soak: Option<Duration>,
    /// Instead of the benchmark: the capacity of one API core against the null frontend, beside
    /// the floor (needs the `flowgate-null-frontend` and `flowgate-floor` binaries in --bin-dir).
    #[arg(long, conflicts_with = "soak")]
    capacity: bool,
    /// With `--capacity`: wrk's connections, one phase each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 4, 16, 64])]
    connections: Vec<u32>,
    /// With `--capacity`: the fixed low rate (requests per second) of the CPU-per-request phase.
    #[arg(long, default_value_t = 200.0)]
    low_rate: f64,
    /// Instead of measuring: summarise an earlier capacity run's `capacity.json` again into
    /// --out (after a change to the report).
    #[arg(long, value_name = "CAPACITY_JSON")]
    capacity_from: Option<PathBuf>,
}

fn humantime_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {s:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("not a duration: {s:?} (use ms, s or m)")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("flowgate-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if !procstat::available() {
        bail!("/proc is needed to measure CPU and memory");
    }
    std::fs::create_dir_all(&cli.out)?;
    if let Some(saved) = &cli.capacity_from {
        let report = capacity::CapacityReport::from_json(&std::fs::read_to_string(saved)?)
            .with_context(|| format!("cannot read {}", saved.display()))?;
        report.write(&cli.out)?;
        eprintln!("{}", report.summary_table());
        return Ok(ExitCode::SUCCESS);
    }
    let work = tempfile::tempdir()?;
    if cli.capacity {
        let only = match cli.only.as_deref() {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(|name| {
                        capacity::CapacityPath::parse(name)
                            .with_context(|| format!("no capacity path {name:?}"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?,
            ),
        };
        let options = capacity::CapacityOptions {
            duration: cli.duration,
            repeat: cli.repeat,
            warmup: cli.warmup,
            concurrencies: cli.connections.clone(),
            low_rate: cli.low_rate,
            only,
        };
        return capacity::run(&cli.bin_dir, &cli.out, work.path(), &options).await;
    }
    eprintln!(
        "starting Temporal, the worker and the API ({})",
        cli.bin_dir.display()
    );
    let pairs = |list: &[String]| {
        list.iter()
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .with_context(|| format!("{pair:?} is not NAME=VALUE"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let (api_env, worker_env) = (pairs(&cli.api_env)?, pairs(&cli.worker_env)?);
    let stack = Stack::start(&cli.bin_dir, work.path(), &api_env, &worker_env).await?;
    if let Some(length) = cli.soak {
        return soak::run(&stack, length, &cli.out, work.path()).await;
    }
    let bench = Bench {
        stack: &stack,
        duration: cli.duration,
        work: work.path().to_owned(),
        grpc: grpc::connect(&stack.temporal.address()).await?,
    };
    bench.check_routes().await?;
    let results = bench
        .all(cli.repeat, cli.warmup, cli.only.as_deref())
        .await?;
    let rss = json!({
        "api_start_mib": procstat::rss_kib(stack.api_start.pid()?)? as f64 / 1024.0,
        "api_sync_mib": procstat::rss_kib(stack.api_sync.pid()?)? as f64 / 1024.0,
        "worker_mib": procstat::rss_kib(stack.worker.pid()?)? as f64 / 1024.0,
        "temporal_mib": procstat::rss_kib(stack.temporal.pid().context("temporal exited")?)? as f64 / 1024.0,
    });
    let report = report::Report::new(&results, rss, cli.duration, cli.repeat);
    report.write(&cli.out)?;
    eprintln!("{}", report.targets_text());
    eprintln!("written: {}/results.json, results.md", cli.out.display());
    Ok(ExitCode::SUCCESS)
}

/// The shopping list of `items` items, as the guide's body.
/// The order of the phases in repetition `rep`: groups of the same scenario, concurrency and
/// items stay in place; within a group the targets rotate, so no target is always measured
/// first after a quiet period, or always last.
fn rotated(specs: &[(&'static str, Target, u32, u32)], rep: usize) -> Vec<usize> {
    let mut order = Vec::with_capacity(specs.len());
    let mut start = 0;
    while start < specs.len() {
        let (scenario, _, c, items) = specs[start];
        let len = specs[start..]
            .iter()
            .take_while(|&&(s, _, c2, i2)| (s, c2, i2) == (scenario, c, items))
            .count();
        order.extend((0..len).map(|k| start + (k + rep) % len));
        start += len;
    }
    order
}

fn shopping_list(items: u32) -> serde_json::Value {
    let fruits = ["APPLE", "BANANA", "CHERRY", "ORANGE"];
    json!({"items": (0..items).map(|i| json!({"fruit": fruits[i as usize % 4], "amount": 1 + i})).collect::<Vec<_>>()})
}

struct Bench<'a> {
    stack: &'a Stack,
    duration: Duration,
    work: PathBuf,
    grpc: temporalio_client::Client,
}

/// What a phase produced before CPU accounting.
struct Load {
    requests: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    elapsed: Duration,
    loadgen_ticks: u64,
}

impl Bench<'_> {
    fn async_flowgate(&self) -> HttpRequest {
        HttpRequest {
            method: "POST",
            path: "/v1/workflow-types/shopping/start".to_owned(),
            body: Some(json!({"input": shopping_list(1)}).to_string()),
            headers: Vec::new(),
        }
    }

    fn async_temporal_http(&self) -> HttpRequest {
        HttpRequest {
            method: "POST",
            path: "/api/v1/namespaces/default/workflows/{id}".to_owned(),
            body: Some(
                json!({
                    "workflowType": {"name": "ShoppingWorkflow"},
                    "taskQueue": {"name": START_ONLY_QUEUE},
                    "input": [shopping_list(1)],
                })
                .to_string(),
            ),
            headers: Vec::new(),
        }
    }

    /// One request of each kind must succeed before anything is measured.
    async fn check_routes(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let checks = [
            (self.stack.api_start.url.clone(), self.async_flowgate()),
            (self.stack.temporal_http(), self.async_temporal_http()),
        ];
        for (base, request) in checks {
            let path = request
                .path
                .replace("{id}", &format!("check-{}", uuid::Uuid::new_v4()));
            let response = http
                .post(format!("{base}{path}"))
                .header("content-type", "application/json")
                .body(request.body.clone().unwrap_or_default())
                .send()
                .await?;
            let status = response.status();
            if !status.is_success() {
                bail!("{base}{path} answered {status}: {}", response.text().await?);
            }
        }
        Ok(())
    }

    async fn all(
        &self,
        repeat: u32,
        warmup: Duration,
        only: Option<&str>,
    ) -> anyhow::Result<Vec<ScenarioResult>> {
        let sync_id = self.finished_workflow().await?;
        let mut specs: Vec<(&'static str, Target, u32, u32)> = Vec::new();
        for c in [1, 16, 64] {
            for target in [Target::Flowgate, Target::TemporalHttp, Target::TemporalGrpc] {
                specs.push(("async-start", target, c, 1));
            }
        }
        for items in [1, 10] {
            for c in [1, 16] {
                specs.push(("sync-start", Target::Flowgate, c, items));
            }
        }
        specs.push(("result", Target::Flowgate, 16, 1));
        specs.retain(|(scenario, ..)| {
            only.is_none_or(|o| o.split(',').any(|name| name.trim() == *scenario))
        });
        // Warm every path up once.
        eprintln!("warming up");
        for &(scenario, target, _, items) in &specs {
            self.load(scenario, target, 4, items, &sync_id, warmup)
                .await?;
        }
        let mut reps: Vec<Vec<Rep>> = vec![Vec::new(); specs.len()];
        for rep in 0..repeat {
            for i in rotated(&specs, rep as usize) {
                let (scenario, target, c, items) = specs[i];
                self.quiesce().await;
                let measured = self.measure(scenario, target, c, items, &sync_id).await?;
                eprintln!(
                    "rep {} {scenario:<11} {:<20} c={c:<2} items={items:<2} {:>8.1} req/s p50 {:>7.2} ms p99 {:>7.2} ms errors {}{}",
                    rep + 1,
                    target.label(),
                    measured.throughput,
                    measured.p50_ms,
                    measured.p99_ms,
                    measured.errors,
                    if measured.disturbed {
                        " (disturbed)"
                    } else {
                        ""
                    }
                );
                reps[i].push(measured);
            }
        }
        Ok(specs
            .into_iter()
            .zip(reps)
            .map(|((scenario, target, c, items), reps)| {
                ScenarioResult::new(scenario, target, c, items, reps)
            })
            .collect())
    }

    /// A workflow that has finished, for the result scenario.
    async fn finished_workflow(&self) -> anyhow::Result<String> {
        let response: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/workflows/shopping", self.stack.api_sync.url))
            .json(&shopping_list(1))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        response["workflow_id"]
            .as_str()
            .map(str::to_owned)
            .context("no workflow_id in the sync start's answer")
    }

    fn api_for(&self, scenario: &str) -> &Service {
        if scenario == "async-start" {
            &self.stack.api_start
        } else {
            &self.stack.api_sync
        }
    }

    async fn load(
        &self,
        scenario: &'static str,
        target: Target,
        concurrency: u32,
        items: u32,
        sync_id: &str,
        duration: Duration,
    ) -> anyhow::Result<Load> {
        let tag = format!(
            "{scenario}-{}-{}",
            uuid::Uuid::new_v4().simple(),
            concurrency
        );
        if target == Target::TemporalGrpc {
            let began = Instant::now();
            let before = procstat::cpu_ticks(std::process::id())?;
            let (latencies, errors) = grpc::start_load(
                &self.grpc,
                "ShoppingWorkflow",
                START_ONLY_QUEUE,
                &shopping_list(1),
                concurrency,
                duration,
                &tag,
            )
            .await?;
            let after = procstat::cpu_ticks(std::process::id())?;
            return Ok(Load {
                requests: latencies.len() as u64 + errors,
                errors,
                p50_ms: latencies.percentile_ms(50.0),
                p99_ms: latencies.percentile_ms(99.0),
                elapsed: began.elapsed(),
                loadgen_ticks: after - before,
            });
        }
        let (base, request) = match (scenario, target) {
            ("async-start", Target::Flowgate) => {
                (self.stack.api_start.url.clone(), self.async_flowgate())
            }
            ("async-start", _) => (self.stack.temporal_http(), self.async_temporal_http()),
            ("sync-start", _) => (
                self.stack.api_sync.url.clone(),
                HttpRequest {
                    method: "POST",
                    path: "/workflows/shopping".to_owned(),
                    body: Some(shopping_list(items).to_string()),
                    headers: Vec::new(),
                },
            ),
            _ => (
                self.stack.api_sync.url.clone(),
                HttpRequest {
                    method: "GET",
                    path: format!("/v1/workflows/{sync_id}/result"),
                    body: None,
                    headers: Vec::new(),
                },
            ),
        };
        let (summary, ticks) =
            wrk::run(&base, &request, concurrency, duration, &tag, &self.work).await?;
        Ok(Load {
            requests: summary.requests,
            errors: summary.errors(),
            p50_ms: summary.p50 as f64 / 1000.0,
            p99_ms: summary.p99 as f64 / 1000.0,
            elapsed: Duration::from_micros(summary.duration_us),
            loadgen_ticks: ticks,
        })
    }

    /// One measured phase: the load, and the CPU every process used meanwhile.
    async fn measure(
        &self,
        scenario: &'static str,
        target: Target,
        concurrency: u32,
        items: u32,
        sync_id: &str,
    ) -> anyhow::Result<Rep> {
        let api = (target == Target::Flowgate).then(|| self.api_for(scenario));
        let pids = Pids::of(self.stack, api)?;
        let before = pids.ticks()?;
        let machine_before = MachineTicks::read()?;
        let load = self
            .load(scenario, target, concurrency, items, sync_id, self.duration)
            .await?;
        let machine = machine_before.until(MachineTicks::read()?);
        let after = pids.ticks()?;
        let delta = |i: usize| after[i].saturating_sub(before[i]);
        let completed = load.requests.max(1) as f64;
        let per_request = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1000.0 / completed;
        // gRPC load comes from this process (delta 3); wrk is a process of its own.
        let wrk_ticks = if target == Target::TemporalGrpc {
            0
        } else {
            load.loadgen_ticks
        };
        let ours = delta(0) + delta(1) + delta(2) + delta(3) + wrk_ticks;
        let total = machine.total.max(1) as f64;
        let other_load = machine.busy.saturating_sub(ours) as f64 / total;
        let steal = machine.steal as f64 / total;
        Ok(Rep {
            throughput: load.requests.saturating_sub(load.errors) as f64
                / load.elapsed.as_secs_f64().max(1e-9),
            p50_ms: load.p50_ms,
            p99_ms: load.p99_ms,
            requests: load.requests,
            errors: load.errors,
            error_rate: load.errors as f64 / completed,
            api_cpu_ms: api.map(|_| per_request(delta(0))),
            worker_cpu_ms: per_request(delta(1)),
            temporal_cpu_ms: per_request(delta(2)),
            loadgen_cpu_ms: per_request(load.loadgen_ticks),
            other_load,
            steal,
            disturbed: other_load > 0.10 || steal > 0.05,
        })
    }

    /// Waits (at most 60 s) until the stack is idle: less than 5 % of a CPU over a second, so
    /// one phase's backlog does not bill the next.
    async fn quiesce(&self) {
        let Ok(pids) = Pids::of(self.stack, Some(&self.stack.api_sync)) else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Ok(before) = pids.ticks() else { return };
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Ok(after) = pids.ticks() else { return };
            let used: u64 = after.iter().zip(&before).map(|(a, b)| a - b).sum();
            if used <= 5 {
                return;
            }
        }
    }
}

/// api (if measured), worker, Temporal, and this process.
struct Pids([Option<u32>; 4]);

impl Pids {
    fn of(stack: &Stack, api: Option<&Service>) -> anyhow::Result<Self> {
        Ok(Self([
            api.map(Service::pid).transpose()?,
            Some(stack.worker.pid()?),
            Some(stack.temporal.pid().context("temporal exited")?),
            Some(std::process::id()),
        ]))
    }

    fn ticks(&self) -> anyhow::Result<[u64; 4]> {
        let mut out = [0; 4];
        for (slot, pid) in out.iter_mut().zip(self.0) {
            if let Some(pid) = pid {
                *slot = procstat::cpu_ticks(pid)?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_of_a_group_goes_first_in_turn_and_groups_keep_their_place() {
        let specs = [
            ("async-start", Target::Flowgate, 1, 1),
            ("async-start", Target::TemporalHttp, 1, 1),
            ("async-start", Target::TemporalGrpc, 1, 1),
            ("async-start", Target::Flowgate, 16, 1),
            ("async-start", Target::TemporalHttp, 16, 1),
            ("sync-start", Target::Flowgate, 1, 1),
        ];
        assert_eq!(rotated(&specs, 0), [0, 1, 2, 3, 4, 5]);
        assert_eq!(rotated(&specs, 1), [1, 2, 0, 4, 3, 5]);
        assert_eq!(rotated(&specs, 2), [2, 0, 1, 3, 4, 5]);
    }
}
