//! Polling with a deadline instead of sleeping.

use std::{future::Future, time::Duration};

/// Polls `check` every 25 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls the API at `base` (`http://host:port`) until `GET /` says `temporal_connected: true`,
/// or panics after `timeout`. `/readyz` cannot tell: it answers 200 whenever the process can
/// serve, Temporal reachable or not.
pub async fn temporal_connected(http: &reqwest::Client, base: &str, timeout: Duration) {
    let url = format!("{base}/");
    eventually(
        timeout,
        &format!("{url} to say temporal_connected"),
        || async {
            let root = json_at(http, &url).await?;
            (root["temporal_connected"] == true).then_some(())
        },
    )
    .await;
}

/// The JSON `GET url` answers, or `None` while it cannot be fetched or read.
pub(crate) async fn json_at(http: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    http.get(url).send().await.ok()?.json().await.ok()
}
