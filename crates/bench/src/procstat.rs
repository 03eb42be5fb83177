//! CPU time and memory of processes, and of the whole machine, from `/proc`.

use std::path::Path;

use anyhow::{Context, anyhow};

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`: 100 on every Linux architecture that
/// runs this).
pub(crate) const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU ticks a process (all its threads) has used so far.
pub(crate) fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state(0) ... utime(11) stime(12).
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok(utime + stime)
}

/// Nanoseconds every live thread of a process has run (`/proc/<pid>/task/*/schedstat`): finer
/// than [`cpu_ticks`] (10 ms), for short phases at low rates. Threads that ended are not counted:
/// measure processes whose threads live on (the services' runtimes).
pub(crate) fn cpu_ns(pid: u32) -> anyhow::Result<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("process {pid} is gone"))?;
    let mut total = 0;
    for task in tasks {
        let path = task?.path().join("schedstat");
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue;
        };
        let ns: u64 = stat
            .split_whitespace()
            .next()
            .context("empty schedstat")?
            .parse()
            .with_context(|| format!("unexpected {}", path.display()))?;
        total += ns;
    }
    Ok(total)
}

/// Resident set size in KiB.
pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid} is gone"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .context("VmRSS")?
        .parse()
        .context("VmRSS")
}

/// Machine-wide CPU ticks from `/proc/stat`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MachineTicks {
    /// user + nice + system: time processes ran.
    pub(crate) busy: u64,
    /// Time the hypervisor gave to others (a noisy neighbour).
    pub(crate) steal: u64,
    /// Everything.
    pub(crate) total: u64,
}

impl MachineTicks {
    /// Now.
    pub(crate) fn read() -> anyhow::Result<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat")?)
    }

    /// Now, for CPU `cpu` alone.
    pub(crate) fn read_cpu(cpu: usize) -> anyhow::Result<Self> {
        Self::parse_line(
            &std::fs::read_to_string("/proc/stat")?,
            &format!("cpu{cpu} "),
        )
    }

    fn parse(stat: &str) -> anyhow::Result<Self> {
        Self::parse_line(stat, "cpu ")
    }

    fn parse_line(stat: &str, prefix: &str) -> anyhow::Result<Self> {
        let line = stat
            .lines()
            .find(|l| l.starts_with(prefix))
            .with_context(|| format!("no {prefix:?} line in /proc/stat"))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let get = |i: usize| v.get(i).copied().unwrap_or(0);
        Ok(Self {
            busy: get(0) + get(1) + get(2),
            steal: get(7),
            total: v.iter().take(8).sum(),
        })
    }

    /// The ticks between `self` and a later reading.
    pub(crate) fn until(self, later: Self) -> Self {
        Self {
            busy: later.busy.saturating_sub(self.busy),
            steal: later.steal.saturating_sub(self.steal),
            total: later.total.saturating_sub(self.total),
        }
    }
}

/// The machine's CPUs (`/proc/cpuinfo`, whatever this process is pinned to).
pub(crate) fn cpus() -> usize {
    let listed = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    if listed > 0 {
        listed
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

/// `model name` of the first CPU, and the memory size, for the report.
pub(crate) fn machine_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{} CPUs ({model}), {mem_gib:.0} GiB, Linux {}",
        cpus(),
        kernel.trim()
    )
}

/// Whether `/proc` is there at all.
pub(crate) fn available() -> bool {
    Path::new("/proc/self/stat").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_and_machine_are_readable() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 0);
        cpu_ticks(me).unwrap();
        let m = MachineTicks::parse("cpu  10 2 5 100 1 0 3 4 0 0\ncpu0 1 1 1 1\n").unwrap();
        assert_eq!((m.busy, m.steal, m.total), (17, 4, 125));
        let cpu0 = MachineTicks::parse_line("cpu  10 2 5 100\ncpu0 1 1 1 1\n", "cpu0 ").unwrap();
        assert_eq!((cpu0.busy, cpu0.total), (3, 4));
        assert!(cpu_ns(me).unwrap() > 0);
    }
}
