//! `--soak`: steady mixed load at fixed rates for a long time; zero errors allowed and resident
//! memory may not grow by 10 % or more after the warm-up. Writes `soak.json` and `soak.md`.

use std::{
    fmt::Write as _,
    path::Path,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::json;

use crate::{procstat, scenario::Latencies, shopping_list, stack::Stack};

/// Requests per second of each kind.
const MIX: [(&str, u32); 4] = [
    ("sync start (1 item)", 5),
    ("async start", 20),
    ("result", 20),
    ("describe", 10),
];

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    last_error: Option<String>,
}

/// Runs the soak for `length` and writes its record into `out`.
pub(crate) async fn run(
    stack: &Stack,
    length: Duration,
    out: &Path,
    _work: &Path,
) -> anyhow::Result<ExitCode> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = stack.api_sync.url.clone();
    let seed: serde_json::Value = http
        .post(format!("{base}/workflows/shopping"))
        .json(&shopping_list(1))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let done_id = seed["workflow_id"].as_str().unwrap_or_default().to_owned();
    let tallies: Vec<Arc<Mutex<Tally>>> = MIX.iter().map(|_| Arc::default()).collect();
    let warmup = (length / 10).max(Duration::from_secs(10));
    let end = Instant::now() + length;
    eprintln!(
        "soak: {} s of mixed load ({} s warm-up)",
        length.as_secs(),
        warmup.as_secs()
    );
    let mut generators = Vec::new();
    for (i, &(kind, rate)) in MIX.iter().enumerate() {
        let http = http.clone();
        let base = base.clone();
        let done_id = done_id.clone();
        let tally = tallies[i].clone();
        generators.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
            let mut inflight = Vec::new();
            while Instant::now() < end {
                ticker.tick().await;
                let request = match i {
                    0 => http
                        .post(format!("{base}/workflows/shopping"))
                        .json(&shopping_list(1)),
                    1 => http
                        .post(format!("{base}/workflows/shopping/async"))
                        .json(&shopping_list(2)),
                    2 => http.get(format!("{base}/workflows/{done_id}/result")),
                    _ => http.get(format!("{base}/v1/workflows/{done_id}")),
                };
                let tally = tally.clone();
                inflight.push(tokio::spawn(async move {
                    let began = Instant::now();
                    let outcome = match request.send().await {
                        Ok(r) if r.status().is_success() => Ok(()),
                        Ok(r) => Err(format!("{kind}: {}", r.status())),
                        Err(e) => Err(format!("{kind}: {e}")),
                    };
                    let mut t = tally
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match outcome {
                        Ok(()) => t.latencies.push(began.elapsed()),
                        Err(e) => {
                            t.errors += 1;
                            t.last_error = Some(e);
                        }
                    }
                }));
                inflight.retain(|h| !h.is_finished());
            }
            for h in inflight {
                let _ = h.await;
            }
        }));
    }
    let pids = [
        ("api", stack.api_sync.pid()?),
        ("worker", stack.worker.pid()?),
        ("temporal", stack.temporal.pid().unwrap_or_default()),
    ];
    let started = Instant::now();
    let mut samples: Vec<serde_json::Value> = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(10));
    while Instant::now() < end {
        ticker.tick().await;
        let mut sample = json!({"t_s": started.elapsed().as_secs()});
        for (name, pid) in pids {
            sample[format!("{name}_mib")] =
                json!(procstat::rss_kib(pid).unwrap_or_default() as f64 / 1024.0);
        }
        samples.push(sample);
    }
    for g in generators {
        g.await?;
    }
    let mut final_sample = json!({"t_s": started.elapsed().as_secs()});
    for (name, pid) in pids {
        final_sample[format!("{name}_mib")] =
            json!(procstat::rss_kib(pid).unwrap_or_default() as f64 / 1024.0);
    }
    samples.push(final_sample);

    // Medians of the minute after the warm-up and of the last minute, so one sample taken
    // during a burst does not decide.
    let window = |from: u64, to: u64| {
        let mut out = serde_json::Map::new();
        for (name, _) in pids {
            let key = format!("{name}_mib");
            let mut values: Vec<f64> = samples
                .iter()
                .filter(|s| (from..to).contains(&s["t_s"].as_u64().unwrap_or_default()))
                .filter_map(|s| s[&key].as_f64())
                .collect();
            values.sort_by(f64::total_cmp);
            out.insert(
                key,
                json!(values.get(values.len() / 2).copied().unwrap_or_default()),
            );
        }
        serde_json::Value::Object(out)
    };
    let secs = length.as_secs();
    let baseline = window(warmup.as_secs(), warmup.as_secs() + 60);
    let last = window(secs.saturating_sub(60).max(warmup.as_secs() + 60), u64::MAX);
    let growth = |name: &str| {
        let key = format!("{name}_mib");
        let b = baseline[&key].as_f64().unwrap_or_default();
        let l = last[&key].as_f64().unwrap_or_default();
        if b > 0.0 { (l - b) / b } else { 0.0 }
    };
    let mut kinds = Vec::new();
    let mut total_errors = 0;
    for (i, &(kind, rate)) in MIX.iter().enumerate() {
        let t = tallies[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let latencies = Latencies::new(t.latencies.clone());
        total_errors += t.errors;
        kinds.push(json!({
            "kind": kind, "rate_per_second": rate, "ok": latencies.len(), "errors": t.errors,
            "last_error": t.last_error,
            "p50_ms": latencies.percentile_ms(50.0), "p99_ms": latencies.percentile_ms(99.0),
        }));
    }
    let api_growth = growth("api");
    let worker_growth = growth("worker");
    let passed = total_errors == 0 && api_growth < 0.10 && worker_growth < 0.10;
    let record = json!({
        "date": chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        "machine": procstat::machine_description(),
        "seconds": length.as_secs(),
        "warmup_seconds": warmup.as_secs(),
        "kinds": kinds,
        "errors": total_errors,
        "rss_growth": {"api": api_growth, "worker": worker_growth, "temporal": growth("temporal")},
        "rss_samples": samples,
        "passed": passed,
    });
    std::fs::write(
        out.join("soak.json"),
        serde_json::to_string_pretty(&record)? + "\n",
    )?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Soak\n\n{} · {} · {} s of steady mixed load through the API, RSS baseline after {} s.\n",
        record["date"].as_str().unwrap_or_default(),
        record["machine"].as_str().unwrap_or_default(),
        length.as_secs(),
        warmup.as_secs()
    );
    let _ = writeln!(
        md,
        "| Kind | Rate /s | OK | Errors | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|"
    );
    for k in &kinds {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.2} | {:.2} |",
            k["kind"].as_str().unwrap_or_default(),
            k["rate_per_second"],
            k["ok"],
            k["errors"],
            k["p50_ms"].as_f64().unwrap_or_default(),
            k["p99_ms"].as_f64().unwrap_or_default()
        );
    }
    let mib = |s: &serde_json::Value, k: &str| s[k].as_f64().unwrap_or_default();
    let _ = writeln!(
        md,
        "\n| Process | RSS after warm-up MiB (median of a minute) | RSS at the end MiB (median of the last minute) | Growth |\n|---|---:|---:|---:|"
    );
    for name in ["api", "worker", "temporal"] {
        let key = format!("{name}_mib");
        let _ = writeln!(
            md,
            "| {name} | {:.1} | {:.1} | {:+.1} % |",
            mib(&baseline, &key),
            mib(&last, &key),
            growth(name) * 100.0
        );
    }
    let _ = writeln!(
        md,
        "\nResult: **{}** (zero errors and API and worker RSS growth under 10 % required).",
        if passed { "passed" } else { "failed" }
    );
    std::fs::write(out.join("soak.md"), &md)?;
    eprintln!("{md}");
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
