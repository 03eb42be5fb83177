//! Open-loop load at a fixed rate, from this process: requests are sent on schedule whether or
//! not earlier ones were answered (wrk keeps a fixed number of requests in flight instead, so its
//! rate is whatever the server allows). Used for the CPU per request at a low rate and for the
//! latency at about half capacity.
//!
//! Tokio's timer ticks every millisecond: each tick sends the requests the schedule owes so far,
//! so at rates above 1,000/s they leave in small bursts. Latency is measured from each request's
//! send to its answer.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::{scenario::Latencies, wrk::HttpRequest};

/// What a run produced.
pub(crate) struct RateRun {
    /// Latencies of the successful requests.
    pub(crate) latencies: Latencies,
    /// Requests answered with an error status, or not at all.
    pub(crate) errors: u64,
    /// Wall time from the first send to the last answer.
    pub(crate) elapsed: Duration,
}

/// Sends `request` to `base` at `rate` per second for `duration`, with `client`.
pub(crate) async fn run(
    client: &reqwest::Client,
    base: &str,
    request: &HttpRequest,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<RateRun> {
    anyhow::ensure!(rate > 0.0, "the rate must be positive");
    let method: reqwest::Method = request.method.parse().context("HTTP method")?;
    let url = format!("{base}{}", request.path);
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let began = Instant::now();
    let mut sent = 0;
    let mut answers = Vec::with_capacity(total as usize);
    while sent < total {
        ticker.tick().await;
        let owed = ((began.elapsed().as_secs_f64() * rate) as u64 + 1).min(total);
        while sent < owed {
            sent += 1;
            let mut call = client.request(method.clone(), &url);
            for (name, value) in &request.headers {
                call = call.header(*name, value);
            }
            if let Some(body) = &request.body {
                call = call
                    .header("content-type", "application/json")
                    .body(body.clone());
            }
            answers.push(tokio::spawn(async move {
                let start = Instant::now();
                let ok = match call.send().await {
                    Ok(response) => {
                        let success = response.status().is_success();
                        // The answer counts once its body is in.
                        response.bytes().await.is_ok() && success
                    }
                    Err(_) => false,
                };
                (ok, start.elapsed())
            }));
        }
    }
    let mut latencies = Vec::with_capacity(answers.len());
    let mut errors = 0;
    for answer in answers {
        match answer.await? {
            (true, latency) => latencies.push(latency),
            (false, _) => errors += 1,
        }
    }
    Ok(RateRun {
        latencies: Latencies::new(latencies),
        errors,
        elapsed: began.elapsed(),
    })
}
