//! `flowgate-worker`: the Temporal worker process.

use std::process::ExitCode;

use clap::Parser;
use flowgate_config::{Command, ConfigArgs};
use flowgate_telemetry::TelemetryOptions;
use flowgate_worker::{WorkerApp, WorkflowIdGenerator};

/// mimalloc: the SDK's worker allocates and frees many small blocks per task (history events,
/// protobuf messages, gRPC frames); with it the worker spends ~10 % less CPU per workflow than
/// with glibc's allocator, for ~3 MiB more resident memory (docs/benchmark.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Flowgate worker: runs Flowgate's Temporal workflows and activities.
#[derive(Debug, Parser)]
#[command(name = "flowgate-worker", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.config.load_or_report("flowgate-worker") {
        Ok(settings) => settings,
        // Docker reserves a health check's exit code 2: unusable settings are plain "unhealthy".
        Err(_) if cli.command.as_ref().is_some_and(Command::is_healthcheck) => {
            return ExitCode::FAILURE;
        }
        Err(code) => return code,
    };
    match cli.command.unwrap_or_default() {
        Command::CheckConfig => flowgate_temporal::print_effective_config(&settings),
        Command::Healthcheck { url, expect } => flowgate_runtime::healthcheck::healthcheck(
            &url.unwrap_or_else(|| {
                flowgate_runtime::healthcheck::readyz_url(
                    settings.worker.health_host,
                    settings.worker.health_port,
                )
            }),
            expect.as_deref(),
        ),
        // `run_service` runs this on the main thread, so the SDK's non-`Send` worker is fine.
        Command::Run => {
            let telemetry = TelemetryOptions::new("flowgate-worker", &settings)
                .id_generator(WorkflowIdGenerator::default());
            let threads = settings.worker.runtime_threads;
            flowgate_runtime::run_service(telemetry, threads, || async {
                // Before the worker polls: an early SIGTERM drains instead of killing.
                let signal = flowgate_runtime::ShutdownSignal::install()?;
                let app = WorkerApp::build(settings).await?;
                tracing::info!(health = %app.health_addr(), "worker probes listening");
                app.run_until(async {
                    signal.recv().await;
                })
                .await
            })
        }
    }
}
