//! `flowgate-api`: the HTTP API process.

use std::process::ExitCode;

use clap::Parser;
use flowgate_api::Application;
use flowgate_config::{Command, ConfigArgs};
use flowgate_telemetry::TelemetryOptions;

/// Flowgate HTTP API: start, watch and read Temporal workflows over REST.
#[derive(Debug, Parser)]
#[command(name = "flowgate-api", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.config.load_or_report("flowgate-api") {
        Ok(settings) => settings,
        // Docker reserves a health check's exit code 2: unusable settings are plain "unhealthy".
        Err(_) if cli.command.as_ref().is_some_and(Command::is_healthcheck) => {
            return ExitCode::FAILURE;
        }
        Err(code) => return code,
    };
    match cli.command.unwrap_or_default() {
        Command::CheckConfig => flowgate_temporal::print_effective_config(&settings),
        Command::Healthcheck { url } => {
            flowgate_telemetry::healthcheck::healthcheck(&url.unwrap_or_else(|| {
                flowgate_telemetry::healthcheck::readyz_url(settings.api.host, settings.api.port)
            }))
        }
        Command::Run => {
            let telemetry = TelemetryOptions::new("flowgate-api", &settings);
            flowgate_telemetry::run_service(telemetry, || async {
                Application::build(settings)
                    .await?
                    .run_until(async {
                        flowgate_telemetry::shutdown_signal().await;
                    })
                    .await
            })
        }
    }
}
