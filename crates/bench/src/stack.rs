//! The measured stack: a Temporal dev server tuned for load, the worker, and two API processes
//! built in release mode.
//!
//! The async-start API serves a task queue no worker polls, so the start path is measured alone
//! (the floor's starts go to the same queue); the sync API and the worker serve the normal queue.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use flowgate_devserver::{DevServer, DevServerOptions, temporal_cli};
use flowgate_testkit::process::{Proc, free_port};

/// Task queue of the async-start scenarios (no worker polls it).
pub(crate) const START_ONLY_QUEUE: &str = "bench-start-only";
/// Dynamic config that lifts the dev server's per-shard processor rate limits (they add a
/// ~100 ms step under back-to-back load).
pub(crate) const TEMPORAL_TUNING: [(&str, &str); 3] = [
    ("history.transferProcessorMaxPollRPS", "10000"),
    ("history.timerProcessorMaxPollRPS", "10000"),
    ("history.visibilityProcessorMaxPollRPS", "10000"),
];

/// Everything running.
pub(crate) struct Stack {
    /// The dev server.
    pub(crate) temporal: DevServer,
    /// The API whose shopping queue has no worker.
    pub(crate) api_start: Service,
    /// The API on the worker's queue.
    pub(crate) api_sync: Service,
    /// The worker.
    pub(crate) worker: Service,
}

/// A running Flowgate process.
pub(crate) struct Service {
    /// Base URL (`http://127.0.0.1:port`).
    pub(crate) url: String,
    proc: Proc,
}

impl Service {
    /// The process `proc`, serving at `url`.
    pub(crate) fn new(url: String, proc: Proc) -> Self {
        Self { url, proc }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> anyhow::Result<u32> {
        self.proc.pid().context("the process has exited")
    }

    /// Everything it printed.
    pub(crate) fn log(&self) -> String {
        self.proc.log_text()
    }
}

impl Stack {
    /// Starts the stack with the binaries in `bin_dir`; logs go to `log_dir`.
    pub(crate) async fn start(
        bin_dir: &Path,
        log_dir: &Path,
        api_env: &[(String, String)],
        worker_env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let cli = temporal_cli::provision_async().await?;
        let mut opts = DevServerOptions::new(cli);
        opts.log_level = "error".to_owned();
        opts.log_file = Some(log_dir.join("temporal.log"));
        // A database file rather than the in-memory default: the in-memory database grows the
        // server's heap by gigabytes over a run, and its garbage collection then takes CPU at
        // random moments, which moved the floor by ±25 % between phases. WAL without an fsync per
        // write keeps the disk out of the measurement.
        opts.db_file = Some(log_dir.join("temporal.db"));
        for pragma in ["journal_mode=WAL", "synchronous=OFF"] {
            opts.extra_args
                .extend(["--sqlite-pragma".to_owned(), pragma.to_owned()]);
        }
        for (key, value) in TEMPORAL_TUNING {
            opts.extra_args.extend([
                "--dynamic-config-value".to_owned(),
                format!("{key}={value}"),
            ]);
        }
        let temporal = DevServer::start(opts).await?;
        let address = temporal.address();
        let api = binary(bin_dir, "flowgate-api")?;
        let worker_bin = binary(bin_dir, "flowgate-worker")?;
        let api_start = spawn_api(
            &api,
            &address,
            START_ONLY_QUEUE,
            log_dir,
            "api-start",
            api_env,
        )
        .await?;
        let api_sync = spawn_api(
            &api,
            &address,
            "shopping-tasks",
            log_dir,
            "api-sync",
            api_env,
        )
        .await?;
        let port = free_port();
        let mut env = vec![
            ("TEMPORAL_ADDRESS", address.clone()),
            ("FLOWGATE_WORKER__HEALTH_HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_WORKER__HEALTH_PORT", port.to_string()),
        ];
        env.extend(worker_env.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let worker = Service {
            url: format!("http://127.0.0.1:{port}"),
            proc: Proc::spawn(&worker_bin, &[], &env, log_dir.join("worker.log")),
        };
        wait_ready(&worker, Probe::Worker).await?;
        Ok(Self {
            temporal,
            api_start,
            api_sync,
            worker,
        })
    }

    /// Temporal's built-in HTTP API.
    pub(crate) fn temporal_http(&self) -> String {
        format!("http://127.0.0.1:{}", self.temporal.http_port())
    }
}

fn binary(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: build it first (cargo build --release -p flowgate-api -p flowgate-worker)",
            path.display()
        );
    }
    Ok(path)
}

async fn spawn_api(
    bin: &Path,
    temporal: &str,
    queue: &str,
    log_dir: &Path,
    name: &str,
    extra_env: &[(String, String)],
) -> anyhow::Result<Service> {
    let port = free_port();
    let mut env = vec![
        ("TEMPORAL_ADDRESS", temporal.to_owned()),
        ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
        ("FLOWGATE_API__PORT", port.to_string()),
        ("FLOWGATE_SHOPPING__TASK_QUEUE", queue.to_owned()),
    ];
    env.extend(extra_env.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let service = Service {
        url: format!("http://127.0.0.1:{port}"),
        proc: Proc::spawn(bin, &[], &env, log_dir.join(format!("{name}.log"))),
    };
    wait_ready(&service, Probe::Api).await?;
    Ok(service)
}

/// Which process [`wait_ready`] waits for.
#[derive(Clone, Copy)]
pub(crate) enum Probe {
    /// Flowgate's API, connected to Temporal.
    Api,
    /// Flowgate's worker.
    Worker,
}

/// Polls until the service can take the benchmark's load (at most 60 s): the worker's `/readyz`
/// answers 200 (it is ready only once connected to Temporal); the API's `GET /` says
/// `temporal_connected` (its `/readyz` answers 200 before that).
pub(crate) async fn wait_ready(service: &Service, probe: Probe) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticker.tick().await;
        let ready = match probe {
            Probe::Worker => http
                .get(format!("{}/readyz", service.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            Probe::Api => match http.get(format!("{}/", service.url)).send().await {
                Ok(r) => r
                    .json::<serde_json::Value>()
                    .await
                    .is_ok_and(|root| root["temporal_connected"] == true),
                Err(_) => false,
            },
        };
        if ready {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{} did not become ready; log:\n{}",
                service.url,
                service.log()
            );
        }
    }
}
