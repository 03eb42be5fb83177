//! Test harness for Flowgate's integration tests.
//!
//! [`TestEnv`] starts, per test, an isolated real Temporal dev server (own ports, own SQLite file
//! so it can be killed and restarted), the real worker and the real API on free ports, and
//! talks to them over HTTP. [`process`] runs the real binaries for signal-handling tests.
//! [`otlp::TraceReceiver`] receives the spans the binaries export.
//! [`metrics`] reads `/metrics` as a scraper does; [`prometheus`] runs a real Prometheus server.
//! [`browser`] drives a real headless chromium. [`instructions`] holds a binary under callgrind to
//! a checked-in instruction budget. [`proxy::PausableProxy`] stands between a process and
//! Temporal and stops forwarding for a while (a slow network).
//! Nothing is faked: waits poll with a deadline ([`eventually`]), never sleep.

pub mod browser;
mod env;
pub mod instructions;
pub mod metrics;
pub mod otlp;
pub mod process;
pub mod prometheus;
pub mod proxy;
pub mod temporal;
mod wait;

pub use env::{TestEnv, TestEnvBuilder};
pub use wait::{eventually, temporal_connected};

/// A shopping request body like the guide's.
pub fn shopping_body(items: &[(&str, i64)]) -> serde_json::Value {
    let items: Vec<_> = items
        .iter()
        .map(|(fruit, amount)| serde_json::json!({"fruit": fruit, "amount": amount}))
        .collect();
    serde_json::json!({ "items": items })
}

/// Runs shopping workflows through the API at `url` (`http://…/workflows/shopping`), each to
/// completion, twice a second until aborted: counters then grow from one scrape to the next, so
/// rates and quantiles over them have something to show.
pub async fn keep_shopping(url: String) {
    let http = reqwest::Client::new();
    let mut pace = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        pace.tick().await;
        let response = http
            .post(&url)
            .json(&shopping_body(&[("APPLE", 2), ("BANANA", 1)]))
            .send()
            .await
            .expect("the API answers");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "POST {url}");
    }
}

/// Installs a test log subscriber once (`RUST_LOG` decides; default: warnings).
pub(crate) fn init_logging() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
