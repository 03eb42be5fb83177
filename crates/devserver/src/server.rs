//! A running `temporal server start-dev` process.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use tempfile::NamedTempFile;
use tokio::process::Child;

use crate::{ports, probe, process};

mod options;
pub use options::DevServerOptions;

/// A running dev server. Dropping it SIGKILLs the process and reaps it before returning.
#[derive(Debug)]
pub struct DevServer {
    /// The options, with every `None` port replaced by the port actually used.
    opts: DevServerOptions,
    log_path: PathBuf,
    _temp_log: Option<NamedTempFile>,
    child: Option<Child>,
}

impl DevServer {
    /// Starts the server and waits until it serves the namespace (see the crate docs).
    ///
    /// On Linux the child is SIGKILLed when the *thread* that spawned it exits, so call this
    /// from a long-lived thread (the main thread, a tokio worker or a test's thread), never
    /// from `spawn_blocking`. Auto-picked ports that turn out to be taken, or a server that
    /// panics while it starts, are re-picked and the server started again (twice).
    pub async fn start(opts: DevServerOptions) -> anyhow::Result<Self> {
        let (mut log_path, mut temp_log) = match &opts.log_file {
            Some(path) => (path.clone(), None),
            None => {
                let file = tempfile::Builder::new()
                    .prefix("temporal-dev-")
                    .suffix(".log")
                    .tempfile()?;
                (file.path().to_owned(), Some(file))
            }
        };
        let auto_ports =
            opts.port.is_none() || opts.http_port.is_none() || opts.metrics_port.is_none();
        let mut attempt = 0;
        loop {
            let [grpc, http, metrics] = ports::free_ports::<3>(opts.ip)?;
            let resolved = DevServerOptions {
                port: Some(opts.port.unwrap_or(grpc)),
                http_port: Some(opts.http_port.unwrap_or(http)),
                metrics_port: Some(opts.metrics_port.unwrap_or(metrics)),
                ..opts.clone()
            };
            let mut server = Self {
                opts: resolved,
                log_path,
                _temp_log: temp_log,
                child: None,
            };
            match server.launch().await {
                Ok(()) => return Ok(server),
                Err(err)
                    if auto_ports
                        && attempt < 2
                        && is_start_up_race(&format!("{err:#}"))
                        && !blames_fixed_port(&format!("{err:#}"), &opts) =>
                {
                    let error = format!("{err:#}");
                    tracing::warn!(%error, "dev server did not start; retrying with new ports");
                    attempt += 1;
                    (log_path, temp_log) = (server.log_path.clone(), server._temp_log.take());
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The gRPC address for clients and `TEMPORAL_ADDRESS`, e.g. `127.0.0.1:7233`.
    pub fn address(&self) -> String {
        self.opts.socket(self.grpc_port()).to_string()
    }

    /// The gRPC frontend port.
    pub fn grpc_port(&self) -> u16 {
        self.opts.port.unwrap_or_default()
    }

    /// The HTTP API port.
    pub fn http_port(&self) -> u16 {
        self.opts.http_port.unwrap_or_default()
    }

    /// The Prometheus `/metrics` port.
    pub fn metrics_port(&self) -> u16 {
        self.opts.metrics_port.unwrap_or_default()
    }

    /// The Web UI's URL, or `None` when headless.
    pub fn ui_url(&self) -> Option<String> {
        self.opts
            .ui_port
            .map(|port| format!("http://{}", self.opts.socket(port)))
    }

    /// The namespace waited for on start-up.
    pub fn namespace(&self) -> &str {
        &self.opts.namespace
    }

    /// The file receiving the server's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The options in use, with the ports actually used filled in.
    pub fn options(&self) -> &DevServerOptions {
        &self.opts
    }

    /// The process id while the server process is running (or not yet reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Graceful stop: SIGTERM, wait up to `shutdown_timeout`, then SIGKILL. No-op if stopped.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        match self.child.take() {
            Some(mut child) => process::terminate(&mut child, self.opts.shutdown_timeout).await,
            None => Ok(()),
        }
    }

    /// Abrupt stop (simulates a crash): SIGKILL and wait for exit. No-op if stopped.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        match self.child.take() {
            Some(mut child) => child.kill().await.context("killing the dev server"),
            None => Ok(()),
        }
    }

    /// Starts the server again with the same ports, db file and log file, and waits until it is
    /// ready. Stops it gracefully first if it is still running.
    ///
    /// The gRPC port (the address clients know) never changes; if another process took the HTTP
    /// API or metrics port while the server was down, those move to new free ports.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        let mut attempt = 0;
        loop {
            match self.launch().await {
                Ok(()) => return Ok(()),
                Err(err) => {
                    let error = format!("{err:#}");
                    let grpc_taken = error.contains(&format!(":{}:", self.grpc_port()));
                    if attempt >= 2 || !error.contains("address already in use") || grpc_taken {
                        return Err(err);
                    }
                    tracing::warn!(%error, "a dev server port was taken while it was down; moving the HTTP and metrics ports");
                    let [http, metrics] = ports::free_ports::<2>(self.opts.ip)?;
                    self.opts.http_port = Some(http);
                    self.opts.metrics_port = Some(metrics);
                    attempt += 1;
                }
            }
        }
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let log_start = std::fs::metadata(&self.log_path).map_or(0, |m| m.len());
        let mut child = process::spawn(&self.opts.cli, &self.opts.args(), &self.log_path)?;
        let ready = probe::wait_ready(
            &mut child,
            self.opts.socket(self.grpc_port()),
            self.opts.socket(self.http_port()),
            &self.opts.namespace,
            self.opts.startup_timeout,
        )
        .await;
        if let Err(err) = ready {
            if let Err(kill_err) = child.kill().await {
                tracing::debug!(error = %kill_err, "dev server already gone");
            }
            let tail = probe::log_tail(&self.log_path, log_start, 30);
            let log = self.log_path.display();
            return Err(anyhow!("{err:#}; last lines of {log}:\n{tail}")).context(format!(
                "starting `{} server start-dev` on {} failed",
                self.opts.cli.display(),
                self.address()
            ));
        }
        tracing::info!(address = %self.address(), pid = ?child.id(), "temporal dev server ready");
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::kill_blocking(&mut child);
        }
    }
}

/// Whether a bind error names a port the caller chose: picking other free ports cannot help.
fn blames_fixed_port(error: &str, opts: &DevServerOptions) -> bool {
    [opts.port, opts.http_port, opts.ui_port, opts.metrics_port]
        .into_iter()
        .flatten()
        .any(|port| {
            error.contains(&format!(":{port}:")) || error.contains(&format!("port {port}:"))
        })
}

/// Whether a start that failed is worth trying again on new ports: a port taken between picking
/// it and binding it, or the server process panicking while it sets itself up (seen rarely from
/// `temporal server start-dev` 1.9.1: a nil dereference while its modules start, cause unknown).
fn is_start_up_race(error: &str) -> bool {
    error.contains("address already in use")
        || (error.contains("before becoming ready") && error.contains("panic:"))
}

#[cfg(test)]
mod tests {
    use super::is_start_up_race;

    #[test]
    fn a_taken_port_or_a_panic_at_start_up_is_retried_other_failures_are_not() {
        assert!(is_start_up_race(
            "listen tcp 127.0.0.1:7233: bind: address already in use"
        ));
        assert!(is_start_up_race(
            "temporal dev server exited (exit status: 2) before becoming ready; last lines: \
             panic: runtime error: invalid memory address or nil pointer dereference"
        ));
        assert!(!is_start_up_race(
            "temporal dev server exited (exit status: 1) before becoming ready; last lines: \
             unknown flag: --no-such-flag"
        ));
        assert!(!is_start_up_race(
            "temporal dev server not ready within 30s"
        ));
    }
}
