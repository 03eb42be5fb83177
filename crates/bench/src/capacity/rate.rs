//! Open-loop load at a fixed rate, from this process: requests are sent on schedule whether or
//! not earlier ones were answered (wrk keeps a fixed number of requests in flight instead, so its
//! rate is whatever the server allows). Used for the CPU per request at a low rate and for the
//! latency at about half capacity.
//!
//! Request `i` is due at `i / rate` and goes out on keep-alive connection `i mod CONNECTIONS`,
//! written as raw HTTP/1.1 (a few µs each, so the generator keeps up with the bare handler).
//! Tokio's timer ticks every millisecond, so requests leave at most a millisecond late, in small
//! bursts above 1,000/s; latency runs from each request's send (or, when its connection was still
//! busy, from when it was due) to the end of its answer.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::{scenario::Latencies, wrk::HttpRequest};

/// Keep-alive connections the requests are spread over.
const CONNECTIONS: u64 = 16;

/// What a run produced.
pub(crate) struct RateRun {
    /// Latencies of the successful requests.
    pub(crate) latencies: Latencies,
    /// Requests answered with an error status, or not at all.
    pub(crate) errors: u64,
    /// Wall time from the first send to the last answer.
    pub(crate) elapsed: Duration,
}

/// Sends `request` to `base` (`http://host:port`) at `rate` per second for `duration`.
pub(crate) async fn run(
    base: &str,
    request: &HttpRequest,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<RateRun> {
    anyhow::ensure!(rate > 0.0, "the rate must be positive");
    let address = base
        .strip_prefix("http://")
        .context("only http:// bases")?
        .to_owned();
    let bytes = raw(request, &address);
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let began = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS.min(total))
        .map(|connection| {
            let address = address.clone();
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&address).await?;
                stream.set_nodelay(true)?;
                let mut buffer = Vec::with_capacity(4096);
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut free_since = began;
                for i in (connection..total).step_by(CONNECTIONS as usize) {
                    let due = began + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    // Waiting for a busy connection counts; the timer's lateness does not.
                    let sent = if free_since > due {
                        due
                    } else {
                        Instant::now()
                    };
                    let answer = tokio::time::timeout(
                        Duration::from_secs(10),
                        exchange(&mut stream, &bytes, &mut buffer),
                    )
                    .await;
                    free_since = Instant::now();
                    match answer {
                        Ok(Ok(status)) if (200..300).contains(&status) => {
                            latencies.push(sent.elapsed());
                        }
                        Ok(Ok(_)) => errors += 1,
                        // The connection is unusable: the rest of its share fails.
                        Ok(Err(_)) | Err(_) => {
                            errors += (i..total).step_by(CONNECTIONS as usize).count() as u64;
                            break;
                        }
                    }
                }
                anyhow::Ok((latencies, errors))
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total as usize);
    let mut errors = 0;
    for task in tasks {
        let (mine, failed) = task.await??;
        latencies.extend(mine);
        errors += failed;
    }
    Ok(RateRun {
        latencies: Latencies::new(latencies),
        errors,
        elapsed: began.elapsed(),
    })
}

/// `request` as HTTP/1.1 bytes for `host`.
fn raw(request: &HttpRequest, host: &str) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\n",
        request.method, request.path
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = request.body.as_deref().unwrap_or_default();
    if request.body.is_some() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Writes one request and reads its whole answer (headers, then `Content-Length` bytes):
/// the status code.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> anyhow::Result<u16> {
    stream.write_all(request).await?;
    buffer.clear();
    let mut chunk = [0u8; 4096];
    let (head_end, status, length) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed");
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end])?;
            let status: u16 = head
                .split(' ')
                .nth(1)
                .context("no status")?
                .parse()
                .context("status")?;
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .context("answers must have a Content-Length")?;
            break (end + 4, status, length);
        }
    };
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed");
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_written_with_their_headers_and_body() {
        let request = HttpRequest {
            method: "POST",
            path: "/p".to_owned(),
            body: Some("{}".to_owned()),
            headers: vec![("Authorization", "Bearer k".to_owned())],
        };
        assert_eq!(
            String::from_utf8(raw(&request, "127.0.0.1:1")).unwrap(),
            "POST /p HTTP/1.1\r\nHost: 127.0.0.1:1\r\nAuthorization: Bearer k\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
