//! `flowgate-api`: the HTTP API process.

use std::process::ExitCode;

use clap::Parser;
use flowgate_api::Application;
use flowgate_config::{Command, ConfigArgs};
use flowgate_telemetry::TelemetryOptions;

/// mimalloc, without transparent huge pages (the workspace's `no_thp`): a request allocates and
/// frees many small blocks (headers, JSON, the gRPC call), and mimalloc runs them in fewer
/// instructions than glibc's allocator (docs/benchmark.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Flowgate HTTP API: start, watch and read Temporal workflows over REST.
#[derive(Debug, Parser)]
#[command(name = "flowgate-api", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<ApiCommand>,
}

/// The service subcommands, plus the API's own.
#[derive(Debug, clap::Subcommand)]
enum ApiCommand {
    #[command(flatten)]
    Service(Command),
    /// Print the hex SHA-256 of the API key read from stdin (for `[[auth.api_keys]] sha256`).
    ///
    /// `printf %s "$KEY" | flowgate-api hash-key`; one trailing newline is ignored.
    HashKey,
}

/// Reads the key from stdin and prints its hash; the key itself is never printed.
#[expect(clippy::print_stdout, reason = "the hash is the command's output")]
fn hash_key() -> ExitCode {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut key = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut key) {
        eprintln!("flowgate-api: cannot read the key from stdin: {e}");
        return ExitCode::from(2);
    }
    let key = key
        .strip_suffix('\n')
        .map(|k| k.strip_suffix('\r').unwrap_or(k))
        .unwrap_or(&key);
    if key.trim().is_empty() {
        eprintln!("flowgate-api: no key on stdin: printf %s \"$KEY\" | flowgate-api hash-key");
        return ExitCode::from(2);
    }
    let digest = Sha256::digest(key.as_bytes());
    println!(
        "{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(ApiCommand::HashKey) => return hash_key(),
        Some(ApiCommand::Service(command)) => Some(command),
        None => None,
    };
    let settings = match cli.config.load_or_report("flowgate-api") {
        Ok(settings) => settings,
        // Docker reserves a health check's exit code 2: unusable settings are plain "unhealthy".
        Err(_) if command.as_ref().is_some_and(Command::is_healthcheck) => {
            return ExitCode::FAILURE;
        }
        Err(code) => return code,
    };
    match command.unwrap_or_default() {
        Command::CheckConfig => flowgate_temporal::print_effective_config(&settings),
        Command::Healthcheck { url, expect } => flowgate_runtime::healthcheck::healthcheck(
            &url.unwrap_or_else(|| {
                flowgate_runtime::healthcheck::readyz_url(settings.api.host, settings.api.port)
            }),
            expect.as_deref(),
        ),
        Command::Run => {
            let telemetry = TelemetryOptions::new("flowgate-api", &settings);
            let threads = settings.api.runtime_threads;
            flowgate_runtime::run_service(telemetry, threads, || async {
                // Before the listener exists: an early SIGTERM drains instead of killing.
                let signal = flowgate_runtime::ShutdownSignal::install()?;
                Application::build(settings)
                    .await?
                    .run_until(async {
                        signal.recv().await;
                    })
                    .await
            })
        }
    }
}
