//! The local run under test: the real `flowgate-dev` binary as a child process.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tokio::process::{Child, Command};

use crate::{
    API, EXIT_TIMEOUT, PORTS, READY_TIMEOUT,
    net::port_open,
    procs::{Proc, descendants, die_with_this_thread, temporal_servers, wait_gone},
};

/// A running `flowgate-dev`; SIGKILLed and reaped when dropped.
pub(crate) struct LocalRun {
    child: Child,
    pid: i32,
    log: PathBuf,
}

impl LocalRun {
    /// Starts the real binary with `--state-dir state` and default ports, output to `log`.
    pub(crate) fn start(state: &Path, log: PathBuf) -> anyhow::Result<Self> {
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowgate-dev"));
        // Default ports and settings: nothing inherited may move them. Only where the Temporal
        // CLI comes from is kept.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let keep = matches!(&*name, "FLOWGATE_TEMPORAL_CLI" | "FLOWGATE_CACHE_DIR");
            if !keep
                && (name.starts_with("FLOWGATE_")
                    || name.starts_with("TEMPORAL_")
                    || name == "API_PORT"
                    || name == "RUST_LOG")
            {
                command.env_remove(&*name);
            }
        }
        command
            .arg("--state-dir")
            .arg(state)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        die_with_this_thread(&mut command);
        let child = command.spawn().context("cannot start flowgate-dev")?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .context("flowgate-dev has no pid")?;
        Ok(Self { child, pid, log })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", self.log.display())
    }

    /// Fails if the process has exited (with its log).
    fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "flowgate-dev exited early with {status}\n{}",
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Polls `GET /readyz` until 200 and `GET /` until it says `temporal_connected` (readiness
    /// alone does not wait for Temporal).
    pub(crate) async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        self.wait_until(http, "/readyz", |_| true).await?;
        self.wait_until(http, "/", |body| {
            body.contains(r#""temporal_connected":true"#)
        })
        .await
    }

    /// Polls `GET path` until it answers 200 with a body `accept`s.
    async fn wait_until(
        &mut self,
        http: &reqwest::Client,
        path: &str,
        accept: impl Fn(&str) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{API}{path}");
        loop {
            self.ensure_running()?;
            let last = match http.get(&url).timeout(Duration::from_secs(2)).send().await {
                Ok(answer) if answer.status() == 200 => {
                    let body = answer.text().await?;
                    if accept(&body) {
                        return Ok(());
                    }
                    format!("200 {body}")
                }
                Ok(answer) => format!("{} {}", answer.status(), answer.text().await?),
                Err(error) => format!("{error:#}"),
            };
            ensure!(
                Instant::now() < deadline,
                "GET {url} not as expected within {READY_TIMEOUT:?} (last: {last})\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the whole banner is in the log; returns the log so far.
    pub(crate) async fn wait_banner(&mut self) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.log_text();
            if text.contains("Press Ctrl-C to stop.") {
                return Ok(text);
            }
            self.ensure_running()?;
            ensure!(
                Instant::now() < deadline,
                "no banner printed\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every process the local run started (its descendants), checking that its Temporal
    /// dev server on `state` is among them.
    pub(crate) fn owned_processes(&self, state: &Path) -> anyhow::Result<Vec<Proc>> {
        let owned = descendants(self.pid);
        let servers = temporal_servers(state);
        ensure!(
            !servers.is_empty(),
            "no `temporal server start-dev` process for {} found in /proc",
            state.display()
        );
        for server in &servers {
            ensure!(
                owned.iter().any(|p| p.pid == server.pid),
                "Temporal server {} ({}) is not a child of flowgate-dev {}",
                server.pid,
                server.cmdline,
                self.pid
            );
        }
        let listing: Vec<String> = owned
            .iter()
            .map(|p| format!("{} {}", p.pid, p.cmdline))
            .collect();
        eprintln!("flowgate-dev {} runs: {}", self.pid, listing.join("; "));
        Ok(owned)
    }

    /// Sends `signal`; expects exit status 0 within [`EXIT_TIMEOUT`], none of `owned` left,
    /// and every default port closed.
    pub(crate) async fn stop(&mut self, signal: Signal, owned: &[Proc]) -> anyhow::Result<()> {
        self.ensure_running()?;
        let t = Instant::now();
        kill(Pid::from_raw(self.pid), signal).with_context(|| format!("sending {signal}"))?;
        let Ok(status) = tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await else {
            bail!(
                "flowgate-dev did not exit within {EXIT_TIMEOUT:?} of {signal}\n{}",
                self.log_tail()
            );
        };
        let status = status?;
        ensure!(
            status.code() == Some(0),
            "flowgate-dev exited with {status} after {signal}, expected 0\n{}",
            self.log_tail()
        );
        eprintln!("flowgate-dev exited 0 {:.1?} after {signal}", t.elapsed());
        let alive_at_exit: Vec<&Proc> = owned.iter().filter(|p| p.is_alive()).collect();
        if !alive_at_exit.is_empty() {
            eprintln!("note: still alive when flowgate-dev exited: {alive_at_exit:?}");
        }
        wait_gone(owned)
            .await
            .with_context(|| format!("after flowgate-dev exited ({signal})"))?;
        for (port, what) in PORTS {
            ensure!(
                !port_open(port),
                "port {port} ({what}) still accepts connections after flowgate-dev exited"
            );
        }
        Ok(())
    }
}

impl Drop for LocalRun {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("killed flowgate-dev {}\n{}", self.pid, self.log_tail());
    }
}
