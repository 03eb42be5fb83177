//! What runs a Flowgate service process: the async runtime, telemetry started before anything
//! else, SIGTERM/SIGINT handling, the periodic return of free heap memory, and the
//! `healthcheck` subcommand the container images probe with.

pub mod healthcheck;
mod memory;

use flowgate_telemetry::{TelemetryOptions, init};

/// SIGTERM and SIGINT (Ctrl-C) handlers. The handlers are in place from [`ShutdownSignal::install`]
/// on, so install them before serving: a signal that arrives before they exist would end the
/// process at once instead of draining it.
#[derive(Debug)]
pub struct ShutdownSignal {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers (needs a Tokio runtime).
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on the first SIGTERM or SIGINT since the handlers were installed, naming it.
    pub async fn recv(mut self) -> &'static str {
        let name = tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutdown requested");
        name
    }
}

/// The body of a service's `main`: starts the async runtime with `runtime_threads` threads (1:
/// everything on this thread; 0: one worker thread per CPU), initialises telemetry, runs `serve`
/// on this thread (so it need not be `Send`), and turns its outcome into an exit code, logging a
/// failure with its whole cause chain. Unusable trace settings stop it before `serve` with exit
/// code 2, like any invalid configuration. Free heap memory is returned to the operating system
/// every [`memory::RELEASE_INTERVAL`]. The spans still buffered when `serve` returns are
/// exported before the process exits.
pub fn run_service<F, Fut>(
    telemetry: TelemetryOptions,
    runtime_threads: usize,
    serve: F,
) -> std::process::ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let program = telemetry.service_name;
    let runtime = match build_runtime(runtime_threads) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let telemetry = match init(telemetry) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("{program}: invalid configuration: {error}");
                return std::process::ExitCode::from(2);
            }
        };
        let releaser = tokio::spawn(memory::release_periodically());
        let code = match serve().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "{program} failed");
                std::process::ExitCode::FAILURE
            }
        };
        releaser.abort();
        // The last export may need this runtime (gRPC connections live on it), so the wait
        // for it must not block the runtime's only thread.
        if tokio::task::spawn_blocking(move || telemetry.shutdown())
            .await
            .is_err()
        {
            eprintln!("{program}: the last spans could not be exported");
        }
        code
    })
}

/// A runtime with `threads` threads: one runs every task on the calling thread (no hand-offs
/// between threads, the least CPU per request); zero means one worker thread per CPU.
fn build_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if threads > 1 {
            builder.worker_threads(threads);
        }
        builder
    };
    builder.enable_all().build()
}
