//! Ports, and the API over HTTP.

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use serde_json::Value;

use crate::API;

pub(crate) fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Something listens on the port, or it cannot be bound on all interfaces (as the API does).
pub(crate) fn port_taken(port: u16) -> bool {
    port_open(port) || TcpListener::bind(("0.0.0.0", port)).is_err()
}

/// Polls `GET url` (redirects followed) until it answers 200.
pub(crate) async fn wait_for_200(
    http: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match http.get(url).timeout(Duration::from_secs(5)).send().await {
            Ok(answer) if answer.status() == 200 => return Ok(()),
            Ok(answer) => answer.status().to_string(),
            Err(error) => format!("{error:#}"),
        };
        ensure!(
            Instant::now() < deadline,
            "GET {url} did not answer 200 within {timeout:?} (last: {last})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The string field `name` of a JSON answer.
pub(crate) fn str_field(value: &Value, name: &str) -> anyhow::Result<String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no string `{name}` in {value}"))
}

/// After a restart, workflow `id` is still known as COMPLETED with its `result`.
pub(crate) async fn ensure_still_completed(
    http: &reqwest::Client,
    id: &str,
    result: &str,
) -> anyhow::Result<()> {
    let url = format!("{API}/workflows/{id}/status");
    let answer = http.get(&url).send().await?;
    let code = answer.status();
    let body = answer.text().await?;
    ensure!(
        code == 200,
        "after a restart GET {url} answered {code}: {body}"
    );
    let body: Value = serde_json::from_str(&body)?;
    ensure!(
        body["workflow_id"] == id && body["status"] == "COMPLETED",
        "after a restart {id} is not COMPLETED: {body}"
    );
    let url = format!("{API}/workflows/{id}/result?wait=0");
    let answer = http.get(&url).send().await?;
    ensure!(
        answer.status() == 200,
        "GET {url} answered {}",
        answer.status()
    );
    let body: Value = answer.json().await?;
    ensure!(
        body["status"] == "completed" && body["result"] == result,
        "after a restart {id} lost its result: {body}"
    );
    Ok(())
}
