//! Spawning and signalling the dev server child process.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Spawns `cli args...` with stdout and stderr appended to `log`, killed when dropped and, on
/// Linux, when the spawning thread dies.
pub(crate) fn spawn(cli: &Path, args: &[OsString], log: &Path) -> anyhow::Result<Child> {
    let stdout = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening dev server log file {}", log.display()))?;
    let stderr = stdout.try_clone()?;
    let mut cmd = Command::new(cli);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true);
    #[cfg(target_os = "linux")]
    die_with_parent(&mut cmd);
    cmd.spawn()
        .with_context(|| format!("spawning {}", cli.display()))
}

/// Makes the kernel SIGKILL the child when the thread that spawned it exits, so that even a
/// parent killed with SIGKILL (no destructors) leaves no stray process behind. Spawn from a
/// thread that lives as long as the child should (not a blocking-pool thread).
#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "pre_exec is unsafe; the hook only makes async-signal-safe syscalls (prctl, getppid)"
)]
pub fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    let hook = move || {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
        // The parent may have died between fork and prctl: then nobody would kill us.
        if std::os::unix::process::parent_id() != parent {
            return Err(std::io::Error::other("parent exited during spawn"));
        }
        Ok(())
    };
    // SAFETY: the hook allocates nothing and only calls async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// Sends `signal` to the (not yet reaped) child; a child that already exited is not an error.
pub(crate) fn signal(child: &Child, signal: Signal) -> anyhow::Result<()> {
    let Some(pid) = child.id() else {
        return Ok(());
    };
    let pid = Pid::from_raw(i32::try_from(pid).context("pid out of range")?);
    match kill(pid, signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(err) => Err(err).with_context(|| format!("sending {signal} to dev server {pid}")),
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL; returns once the child is reaped.
pub(crate) async fn terminate(child: &mut Child, grace: Duration) -> anyhow::Result<()> {
    signal(child, Signal::SIGTERM)?;
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => {
            let status = status.context("waiting for the dev server to exit")?;
            tracing::debug!(%status, "temporal dev server stopped");
        }
        Err(_elapsed) => {
            tracing::warn!(
                ?grace,
                "temporal dev server ignored SIGTERM; sending SIGKILL"
            );
            child.kill().await.context("killing the dev server")?;
        }
    }
    Ok(())
}

/// SIGKILL and reap without an async runtime (for `Drop`), waiting at most a few seconds.
pub(crate) fn kill_blocking(child: &mut Child) {
    if let Err(err) = child.start_kill() {
        tracing::debug!(error = %err, "dev server already gone");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Ok(Some(_)) | Err(_) => return,
        }
    }
    tracing::warn!(pid = ?child.id(), "dev server did not exit within 5s of SIGKILL");
}
