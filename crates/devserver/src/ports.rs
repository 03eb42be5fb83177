//! Free TCP ports for child processes that must be told their port before they bind it.
//!
//! Binding port 0 and releasing it hands out a port from the kernel's ephemeral range, the same
//! range the kernel draws from for the source port of every outgoing connection. Between the
//! release and the child's own bind, any `connect()` on the machine (a test's HTTP client, the
//! dev server's own gRPC connections) may take it, and the child fails with "address already in
//! use". The ports here come from below that range instead, so outgoing connections never take
//! them; each candidate is checked by binding it, and one process never hands out a port twice.

use std::net::{IpAddr, TcpListener};
use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;

/// Where the candidates start: above the ports well-known services listen on.
const LOWEST: u16 = 10_000;
/// Linux's default ephemeral range starts here; used when `/proc` does not say.
const DEFAULT_EPHEMERAL_START: u16 = 32_768;

/// A free TCP port on `ip`, outside the ephemeral range and never handed out before by this
/// process. It is released before it is returned: the caller passes it to a child that binds it.
pub fn free_port(ip: IpAddr) -> anyhow::Result<u16> {
    pick(ip, window(), next_offset)
}

/// The first port of `window`, at the offsets `offsets` yields, that can be bound on `ip`.
fn pick(ip: IpAddr, window: Range<u16>, mut offsets: impl FnMut() -> u32) -> anyhow::Result<u16> {
    let len = u32::from(window.end - window.start);
    for _ in 0..len {
        let offset = u16::try_from(offsets() % len).expect("an offset inside the window");
        let port = window.start + offset;
        if TcpListener::bind((ip, port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free TCP port on {ip} in {window:?}")
}

/// `N` distinct free TCP ports on `ip` (see [`free_port`]).
pub fn free_ports<const N: usize>(ip: IpAddr) -> anyhow::Result<[u16; N]> {
    let mut ports = [0; N];
    for port in &mut ports {
        *port = free_port(ip)?;
    }
    Ok(ports)
}

/// The candidates: from [`LOWEST`] up to the start of the kernel's ephemeral range (read once).
fn window() -> Range<u16> {
    static WINDOW: OnceLock<Range<u16>> = OnceLock::new();
    WINDOW
        .get_or_init(|| {
            let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
                .ok()
                .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
                .unwrap_or(DEFAULT_EPHEMERAL_START);
            if ephemeral_start > LOWEST + 1_000 {
                LOWEST..ephemeral_start
            } else {
                LOWEST..DEFAULT_EPHEMERAL_START
            }
        })
        .clone()
}

/// Successive offsets into the window, from a starting point that differs between processes, so
/// that test binaries started side by side walk different parts of it.
fn next_offset() -> u32 {
    static START: OnceLock<u32> = OnceLock::new();
    static TAKEN: AtomicU32 = AtomicU32::new(0);
    START
        .get_or_init(process_seed)
        .wrapping_add(TAKEN.fetch_add(1, Ordering::Relaxed))
}

/// A per-process starting point: the process id and the start time, mixed.
fn process_seed() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let mixed = (u64::from(std::process::id()) << 32 | u64::from(nanos))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    u32::try_from(mixed >> 33).expect("a 31-bit value")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::Ipv4Addr;

    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn ports_are_distinct_across_threads_and_below_the_ephemeral_range() {
        let window = window();
        let handed_out: Vec<u16> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| free_ports::<50>(LOCALHOST).unwrap()))
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().unwrap())
                .collect()
        });
        let distinct: HashSet<u16> = handed_out.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            handed_out.len(),
            "a port was handed out twice"
        );
        assert!(
            handed_out.iter().all(|port| window.contains(port)),
            "{handed_out:?} not all in {window:?}"
        );
    }

    #[test]
    fn a_port_someone_listens_on_is_skipped() {
        let held = TcpListener::bind((LOCALHOST, free_port(LOCALHOST).unwrap())).unwrap();
        let port = held.local_addr().unwrap().port();
        let mut offsets = 0..;
        let picked = pick(LOCALHOST, port..port + 2, || offsets.next().unwrap()).unwrap();
        assert_eq!(picked, port + 1, "the held port {port} was handed out");
        let only_held = pick(LOCALHOST, port..port + 1, || 0).unwrap_err();
        assert!(
            only_held.to_string().contains("no free TCP port"),
            "{only_held}"
        );
    }
}
