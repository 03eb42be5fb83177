//! `flowgate-worker`: the Temporal worker process.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flowgate_config::ConfigArgs;
use flowgate_worker::WorkerApp;

/// Flowgate worker: runs Flowgate's Temporal workflows and activities.
#[derive(Debug, Parser)]
#[command(name = "flowgate-worker", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the worker (the default).
    Run,
    /// Print the effective configuration, secrets redacted, and exit.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.config.load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("flowgate-worker: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => flowgate_temporal::print_effective_config(&settings),
        Command::Run => run(settings),
    }
}

fn run(settings: flowgate_config::Settings) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("flowgate-worker: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // `block_on` runs on this thread, so the SDK's non-`Send` worker future is fine here.
    runtime.block_on(async move {
        let _telemetry = flowgate_telemetry::init(&settings.log);
        let result = async {
            let app = WorkerApp::build(settings).await?;
            tracing::info!(health = %app.health_addr(), "worker probes listening");
            app.run_until(async {
                flowgate_telemetry::shutdown_signal().await;
            })
            .await
        }
        .await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "flowgate-worker failed");
                ExitCode::FAILURE
            }
        }
    })
}
