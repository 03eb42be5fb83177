//! Logging for Flowgate's binaries: one [`init`] call, `RUST_LOG` honoured, pretty or JSON lines.
//!
//! Traces and metrics exporters plug in here too, so both binaries keep one start-up path.

use std::io::IsTerminal;

use flowgate_config::{LogFormat, LogSettings};
use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// Keeps telemetry running; flushes on drop. Hold it until `main` returns.
#[must_use = "telemetry stops when the guard is dropped"]
#[derive(Debug)]
pub struct TelemetryGuard {
    _private: (),
}

/// Installs the global subscriber. `RUST_LOG` wins over `log.level`. Calling it twice (tests
/// that start several components in one process) keeps the first subscriber.
pub fn init(settings: &LogSettings) -> TelemetryGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match settings.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
    };
    // An already-installed subscriber is fine: it is the test harness or an embedding process.
    drop(result);
    TelemetryGuard { _private: () }
}

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C), naming the signal.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler can be installed");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler can be installed");
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "shutdown requested");
    name
}

/// The body of a service's `main`: starts a multi-threaded runtime, initialises logging, runs
/// `serve` on this thread (so it need not be `Send`), and turns its outcome into an exit code,
/// logging a failure with its whole cause chain.
pub fn run_service<F, Fut>(program: &str, log: &LogSettings, serve: F) -> std::process::ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let _telemetry = init(log);
        match serve().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "{program} failed");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
