//! The `healthcheck` subcommand of both binaries: one HTTP `GET` of the process's own `/readyz`
//! (or of `--url`, optionally requiring a text in the answer with `--expect`),
//! for container runtimes that probe by running a command (Docker's `HEALTHCHECK`, compose
//! `healthcheck`). The images have no shell and no curl, so the binary probes itself.
//!
//! Plain `std::net` on purpose: no runtime, no TLS, no dependency — it only ever talks to a
//! listener of the same container over loopback.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream, ToSocketAddrs},
    process::ExitCode,
    time::Duration,
};

/// Bound on connecting, sending and reading the answer, each.
const TIMEOUT: Duration = Duration::from_secs(3);

/// `http://<host>:<port>/readyz` of a listener bound to `host`: the loopback address when it binds
/// every interface (`0.0.0.0` or `::`), since a health check runs inside the same container.
pub fn readyz_url(host: IpAddr, port: u16) -> String {
    let host = match host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    match host {
        IpAddr::V4(ip) => format!("http://{ip}:{port}/readyz"),
        IpAddr::V6(ip) => format!("http://[{ip}]:{port}/readyz"),
    }
}

/// `GET url` over HTTP/1.1 (plain `http://` only), each step bounded by 3 s. Exits 0 when the
/// answer is `200` — and, with `expect`, its body contains that text — 1 otherwise (never 2,
/// which Docker reserves), and prints one line saying which: on stdout when healthy, on stderr
/// when not.
#[expect(clippy::print_stdout, reason = "the verdict is the command's output")]
pub fn healthcheck(url: &str, expect: Option<&str>) -> ExitCode {
    match probe(url) {
        Ok((200, body)) => match expect {
            Some(text) if !body.contains(text) => {
                eprintln!(
                    "unhealthy: {url} answered 200 without {text}: {}",
                    body.trim()
                );
                ExitCode::FAILURE
            }
            Some(text) => {
                println!("healthy: {url} answered 200 with {text}");
                ExitCode::SUCCESS
            }
            None => {
                println!("healthy: {url} answered 200");
                ExitCode::SUCCESS
            }
        },
        Ok((status, _)) => {
            eprintln!("unhealthy: {url} answered {status}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("unhealthy: {url}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Most of an answer read: health answers are a few hundred bytes.
const MAX_ANSWER: u64 = 64 * 1024;

/// The status code `url` answers with, and the answer's body.
fn probe(url: &str) -> Result<(u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs can be checked")?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    if authority.ends_with(":0") {
        return Err("port 0 (any free port) cannot be checked: configure a fixed port".into());
    }
    let addrs: Vec<_> = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .collect();
    let mut last_error = format!("{authority} resolves to no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(e) => last_error = format!("cannot connect to {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last_error)?;
    let io = |e: std::io::Error| format!("no answer: {e}");
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: flowgate-healthcheck\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut reader = BufReader::new(stream.take(MAX_ANSWER));
    let mut status_line = String::new();
    reader.read_line(&mut status_line).map_err(io)?;
    let status = parse_status(&status_line).ok_or_else(|| {
        format!(
            "not an HTTP answer: {:?}",
            status_line.trim_end_matches(['\r', '\n'])
        )
    })?;
    // The rest (`Connection: close`): headers, then the body after the first blank line.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).map_err(io)?;
    let rest = String::from_utf8_lossy(&rest);
    let body = rest.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.to_owned()))
}

/// The code of an HTTP/1.x status line (`HTTP/1.1 503 Service Unavailable`).
fn parse_status(line: &str) -> Option<u16> {
    let mut parts = line.split_ascii_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3).then(|| code.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_bind_address_is_probed_over_loopback() {
        assert_eq!(
            readyz_url(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8000),
            "http://127.0.0.1:8000/readyz"
        );
        assert_eq!(
            readyz_url(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 8081),
            "http://[::1]:8081/readyz"
        );
        assert_eq!(
            readyz_url("10.1.2.3".parse().unwrap(), 8000),
            "http://10.1.2.3:8000/readyz"
        );
    }

    #[test]
    fn status_lines_are_parsed_and_anything_else_is_not() {
        assert_eq!(parse_status("HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status("HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status("SSH-2.0-OpenSSH_9.2\r\n"), None);
        assert_eq!(parse_status(""), None);
        assert_eq!(parse_status("HTTP/1.1 20 OK"), None);
    }

    #[test]
    fn the_answer_s_status_and_body_are_read() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            // The whole request first: a socket closed with unread bytes is reset, and the
            // reset could overtake the answer.
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut chunk).unwrap();
                assert!(n > 0, "the request ends with an empty line");
                request.extend_from_slice(&chunk[..n]);
            }
            let body = r#"{"service":"x","temporal_connected":true}"#;
            write!(
                socket,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        });
        let (status, body) = probe(&format!("http://127.0.0.1:{port}/")).unwrap();
        server.join().unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, r#"{"service":"x","temporal_connected":true}"#);
    }

    #[test]
    fn a_closed_port_or_a_non_http_url_is_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The listener is dropped: nothing listens there any more.
        let error = probe(&format!("http://127.0.0.1:{port}/readyz")).unwrap_err();
        assert!(error.contains("cannot connect"), "{error}");
        assert!(probe("https://127.0.0.1:1/readyz").is_err());
        assert!(
            probe("http://127.0.0.1:0/readyz")
                .unwrap_err()
                .contains("port 0")
        );
    }
}
