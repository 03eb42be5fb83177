//! `flowgate-api`: the HTTP API process.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flowgate_api::Application;
use flowgate_config::ConfigArgs;

/// Flowgate HTTP API: start, watch and read Temporal workflows over REST.
#[derive(Debug, Parser)]
#[command(name = "flowgate-api", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Run,
    /// Print the effective configuration, secrets redacted, and exit.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.config.load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("flowgate-api: {error}");
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
            eprintln!("flowgate-api: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = flowgate_telemetry::init(&settings.log);
        let result = async {
            let app = Application::build(settings).await?;
            app.run_until(async {
                flowgate_telemetry::shutdown_signal().await;
            })
            .await
        }
        .await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "flowgate-api failed");
                ExitCode::FAILURE
            }
        }
    })
}
