//! Processes: what the local run started (read from `/proc`), whether it still runs, and the
//! hook that ties a child's life to this test's.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::ensure;
use nix::sys::signal::Signal;
use tokio::process::Command;

/// A process, identified by pid and start time (so a reused pid is not mistaken for it).
#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) pid: i32,
    start_time: u64,
    pub(crate) cmdline: String,
}

impl Proc {
    fn of(pid: i32) -> Option<Self> {
        Some(Self {
            pid,
            start_time: stat(pid)?.start_time,
            cmdline: cmdline(pid).join(" "),
        })
    }

    /// Still running: same process, not a zombie.
    pub(crate) fn is_alive(&self) -> bool {
        stat(self.pid).is_some_and(|s| s.start_time == self.start_time && s.state != 'Z')
    }
}

/// Every live descendant of `root`.
pub(crate) fn descendants(root: i32) -> Vec<Proc> {
    let parents: Vec<(i32, i32)> = all_pids()
        .filter_map(|pid| stat(pid).filter(|s| s.state != 'Z').map(|s| (pid, s.ppid)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.into_iter().skip(1).filter_map(Proc::of).collect()
}

/// Live `temporal server start-dev` processes whose arguments mention `state`.
pub(crate) fn temporal_servers(state: &Path) -> Vec<Proc> {
    let state = state.to_string_lossy();
    all_pids()
        .filter(|pid| {
            let args = cmdline(*pid);
            args.first().is_some_and(|bin| bin.ends_with("temporal"))
                && args
                    .windows(2)
                    .any(|w| w[0] == "server" && w[1] == "start-dev")
                && args.iter().any(|arg| arg.contains(&*state))
        })
        .filter_map(Proc::of)
        .filter(Proc::is_alive)
        .collect()
}

/// Waits until none of `processes` runs. A process killed as its parent dies
/// (PR_SET_PDEATHSIG) may take a moment to vanish.
pub(crate) async fn wait_gone(processes: &[Proc]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left: Vec<&Proc> = processes.iter().filter(|p| p.is_alive()).collect();
        if left.is_empty() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "these processes it started are still running: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes the kernel SIGKILL the child if the thread that started it (this test) dies without
/// running destructors, so an aborted test leaves no local run holding the ports.
#[expect(
    unsafe_code,
    reason = "pre_exec is unsafe; the hook only makes async-signal-safe syscalls (prctl, getppid)"
)]
pub(crate) fn die_with_this_thread(command: &mut Command) {
    let parent = std::process::id();
    let hook = move || {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
        if std::os::unix::process::parent_id() != parent {
            return Err(std::io::Error::other("parent exited during spawn"));
        }
        Ok(())
    };
    // SAFETY: the hook allocates nothing and only calls async-signal-safe syscalls.
    unsafe {
        command.pre_exec(hook);
    }
}

fn all_pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

struct Stat {
    state: char,
    ppid: i32,
    start_time: u64,
}

/// Fields of `/proc/<pid>/stat` (see proc(5)); the command name may contain spaces and ')'.
fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default()
}
