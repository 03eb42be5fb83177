//! The real binaries as child processes, for start-up, signal and drain tests.

use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use nix::{sys::signal::kill, unistd::Pid};

pub use nix::sys::signal::Signal;

/// A free TCP port on 127.0.0.1 for a child to bind: released before it is returned, taken from
/// below the kernel's ephemeral range so that no outgoing connection takes it in between, and
/// never handed out twice by one test process (see [`flowgate_devserver::free_port`]).
pub fn free_port() -> u16 {
    flowgate_devserver::free_port(std::net::Ipv4Addr::LOCALHOST.into()).expect("a free port")
}

/// The workspace binary `name`, built next to `sibling` (a `CARGO_BIN_EXE_*` path of the calling
/// crate). Cargo only names the binaries of a test's own package; `cargo test --workspace` (what
/// CI and the README run) builds every binary of the workspace into that same directory, fresh.
pub fn workspace_binary(sibling: &str, name: &str) -> PathBuf {
    let path = Path::new(sibling).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first (`cargo build -p {name}`, or run `cargo test --workspace`)",
        path.display()
    );
    path
}

/// A running Flowgate binary; killed when dropped, and when the thread that started it exits.
pub struct Proc {
    child: tokio::process::Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `bin` with `envs` on top of a cleaned environment (no inherited `FLOWGATE_*`,
    /// `TEMPORAL_*` or `OTEL_*` variables), writing stdout and stderr to `log`.
    pub fn spawn(bin: &Path, args: &[&str], envs: &[(&str, String)], log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = tokio::process::Command::new(bin);
        for (name, _) in std::env::vars() {
            if name.starts_with("FLOWGATE_")
                || name.starts_with("TEMPORAL_")
                || name.starts_with("OTEL_")
                || name == "API_PORT"
            {
                command.env_remove(name);
            }
        }
        // Any free admin port (`/metrics` of the API), so binaries run side by side; `envs` may
        // still choose one.
        command
            .env("FLOWGATE_METRICS__API_ADMIN_HOST", "127.0.0.1")
            .env("FLOWGATE_METRICS__API_ADMIN_PORT", "0")
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .env("FLOWGATE_LOG__LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        // A harness killed outright (no destructors) leaves no stray binaries behind either.
        #[cfg(target_os = "linux")]
        flowgate_devserver::die_with_parent(&mut command);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Self { child, log }
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends `signal`.
    pub fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("process still running");
        kill(Pid::from_raw(pid as i32), signal).expect("signal delivered");
    }

    /// Waits for the exit, at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.expect("wait for child"),
            Err(_) => panic!(
                "process did not exit within {timeout:?}; log:\n{}",
                self.log_text()
            ),
        }
    }

    /// Whether the process has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Everything the process printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
