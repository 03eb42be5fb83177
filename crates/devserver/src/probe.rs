//! Free ports, readiness probing and log tails for the dev server.

use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Child;
use tokio::time::{Instant, sleep, timeout};

/// Interval between readiness probes (polling, not synchronisation).
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Upper bound for one probe, so a hung connection cannot outlive the deadline by much.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Waits until the frontend accepts TCP on `grpc` and `GET /api/v1/namespaces/{namespace}` on
/// `http` returns 200 (the HTTP API answers only after the gRPC frontend does), or fails when
/// the child exits or `limit` passes.
pub(crate) async fn wait_ready(
    child: &mut Child,
    grpc: SocketAddr,
    http: SocketAddr,
    namespace: &str,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let path = format!("/api/v1/namespaces/{namespace}");
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("temporal dev server exited ({status}) before becoming ready");
        }
        let last = match timeout(PROBE_TIMEOUT, probe(grpc, http, &path)).await {
            Ok(Ok(200)) => return Ok(()),
            Ok(Ok(code)) => format!("GET http://{http}{path} returned {code}"),
            Ok(Err(err)) => format!("{err:#}"),
            Err(_elapsed) => format!("probe timed out after {PROBE_TIMEOUT:?}"),
        };
        if Instant::now() >= deadline {
            bail!("temporal dev server not ready after {limit:?} (last probe: {last})");
        }
        sleep(POLL_INTERVAL).await;
    }
}

async fn probe(grpc: SocketAddr, http: SocketAddr, path: &str) -> anyhow::Result<u16> {
    drop(
        TcpStream::connect(grpc)
            .await
            .with_context(|| format!("connecting to gRPC {grpc}"))?,
    );
    http_get_status(http, path).await
}

/// Minimal HTTP/1.1 GET returning the status code (no body parsing needed).
pub(crate) async fn http_get_status(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0_u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 8192 {
            bail!("no HTTP status line from {addr}");
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let code = line.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    code.with_context(|| format!("bad HTTP status line from {addr}: {line:?}"))
}

/// The last `max_lines` lines written to `path` at or after byte `from`, preceded by the first
/// `panic:` line and the two after it when the tail does not show it: a Go panic prints its
/// cause first and then a long goroutine dump, and the cause (e.g. `address already in use`)
/// is what callers and people need.
pub(crate) fn log_tail(path: &Path, from: u64, max_lines: usize) -> String {
    const MAX_BYTES: u64 = 1024 * 1024;
    let read = || -> std::io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(from.max(len.saturating_sub(MAX_BYTES))))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let tail_start = lines.len().saturating_sub(max_lines);
            let mut out: Vec<&str> = Vec::new();
            if let Some(panic) = lines.iter().position(|l| l.starts_with("panic:"))
                && panic < tail_start
            {
                out.extend(&lines[panic..(panic + 3).min(tail_start)]);
                out.push("…");
            }
            out.extend(&lines[tail_start..]);
            out.join("\n")
        }
        Err(err) => format!("(could not read {}: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panics_cause_is_kept_ahead_of_its_goroutine_dump() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut text = String::from(
            "starting\npanic: listen tcp 127.0.0.1:7233: bind: address already in use\n\ngoroutine 1 [running]:\n",
        );
        for i in 0..100 {
            text.push_str(&format!("frame {i}\n"));
        }
        std::fs::write(file.path(), text).unwrap();
        let tail = log_tail(file.path(), 0, 30);
        assert!(tail.starts_with("panic: listen tcp"), "{tail}");
        assert!(tail.contains("address already in use"));
        assert!(tail.ends_with("frame 99"), "{tail}");
        assert_eq!(tail.lines().count(), 3 + 1 + 30);
    }

    #[test]
    fn a_short_log_is_shown_whole() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "panic: boom\nframe\n").unwrap();
        assert_eq!(log_tail(file.path(), 0, 30), "panic: boom\nframe");
    }
}
