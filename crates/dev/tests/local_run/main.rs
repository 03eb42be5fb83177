//! The one-command local run, end to end, with the real `flowgate-dev` binary on its default
//! ports: the HTTP API guide's client examples (`examples/guide`) run unchanged with their real
//! toolchains, Ctrl-C (SIGINT) stops everything with exit status 0 and leaves no process behind,
//! and the workflows survive a restart on the same state directory (stopped with SIGTERM).
//!
//! Needs the default ports free: 8000 (API), 7233 (Temporal gRPC), 7243 (Temporal HTTP), 8080
//! (Temporal UI) and 8081 (worker probe). Toolchains: `bash` + `curl`, `python3` with the
//! `requests` package, `node` >= 18 (global `fetch`), `go`. A missing toolchain skips its
//! examples, unless `FLOWGATE_REQUIRE_GUIDE_CLIENTS=1` (CI), which makes it a failure.
//!
//! Every wait is bounded and the whole test is under [`TEST_TIMEOUT`]; the local run is
//! SIGKILLed when its guard drops (and by the kernel if this test process dies), which in turn
//! takes its Temporal server with it.

mod examples;
mod local_run;
mod net;
mod procs;
mod toolchains;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::{
    local_run::LocalRun,
    net::{ensure_still_completed, port_taken, str_field, wait_for_200},
    toolchains::{Tool, go_env, runnable_examples},
};

const API: &str = "http://localhost:8000";
const UI: &str = "http://localhost:8080";
/// The ports the local run takes by default.
const PORTS: [(u16, &str); 6] = [
    (8000, "API"),
    (9464, "API metrics"),
    (7233, "Temporal gRPC"),
    (7243, "Temporal HTTP API"),
    (8080, "Temporal UI"),
    (8081, "worker probe"),
];
/// Env var that turns a missing client toolchain from a skip into a failure.
const REQUIRE_CLIENTS_ENV: &str = "FLOWGATE_REQUIRE_GUIDE_CLIENTS";
/// The first run ever may `pip install` the Temporal CLI.
const READY_TIMEOUT: Duration = Duration::from_secs(240);
/// The brief's bound on a signalled shutdown.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// `go run` compiles; the others take about a second.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(240);
const TOOL_PROBE_TIMEOUT: Duration = Duration::from_secs(30);
const TEST_TIMEOUT: Duration = Duration::from_secs(1200);

const APPLES_AND_BANANAS: &str = "Ordered 5 Apples...Ordered 3 Bananas...";

#[tokio::test]
async fn the_local_run_serves_the_guide_examples_stops_cleanly_and_keeps_its_state() {
    let started = Instant::now();
    match tokio::time::timeout(TEST_TIMEOUT, local_run_end_to_end()).await {
        Ok(Ok(())) => eprintln!("local run test passed in {:.1?}", started.elapsed()),
        Ok(Err(error)) => panic!("{error:#}"),
        Err(_) => panic!("the local run test did not finish within {TEST_TIMEOUT:?}"),
    }
}

async fn local_run_end_to_end() -> anyhow::Result<()> {
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/guide");
    let guide = guide
        .canonicalize()
        .with_context(|| format!("examples directory {} is missing", guide.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("flowgate-local-run-")
        .tempdir()?;
    let state = tmp.path().join("state");
    let runnable = runnable_examples().await?;
    for (port, what) in PORTS {
        ensure!(
            !port_taken(port),
            "port {port} ({what}) is already in use: the local run needs its default ports \
             8000, 7233, 7243, 8080 and 8081 (the guide's examples hard-code localhost:8000). \
             Stop whatever listens there (see `ss -ltnp 'sport = :{port}'`), e.g. another \
             `flowgate-dev`, and run the test again"
        );
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()?;

    // --- First run: banner, UI, the guide's examples, Ctrl-C. ---
    let t = Instant::now();
    let mut run = LocalRun::start(&state, tmp.path().join("flowgate-dev-1.log"))?;
    let banner = run.wait_banner().await?;
    // "Flowgate is running" is printed once the API has reached Temporal, not before.
    let root: Value = http.get(format!("{API}/")).send().await?.json().await?;
    ensure!(
        root["temporal_connected"] == true,
        "the banner was printed before the API reached Temporal: {root}"
    );
    run.wait_ready(&http).await?;
    eprintln!("local run ready in {:.1?}", t.elapsed());
    for (label, url) in [
        ("API:", API.to_owned()),
        ("API docs:", format!("{API}/docs")),
        ("Temporal UI:", UI.to_owned()),
    ] {
        ensure!(
            banner_value(&banner, label) == Some(url.as_str()),
            "the banner should show `{label} {url}`; it printed:\n{banner}"
        );
    }
    // The UI may come up a moment after the Temporal frontend.
    let metrics = [
        "http://localhost:9464/metrics".to_owned(),
        "http://localhost:8081/metrics".to_owned(),
    ];
    for url in [UI.to_owned(), format!("{API}/docs")]
        .into_iter()
        .chain(metrics)
    {
        wait_for_200(&http, &url, Duration::from_secs(30)).await?;
    }
    let root: Value = http.get(format!("{API}/")).send().await?.json().await?;
    ensure!(
        root == json!({"service": "Temporal Workflow API", "status": "running", "temporal_connected": true}),
        "GET / is not the guide's health answer: {root}"
    );

    // A workflow of our own, whatever toolchains are present, to look for after the restart.
    let mine = http
        .post(format!("{API}/workflows/shopping"))
        .json(
            &json!({"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}),
        )
        .send()
        .await?;
    ensure!(
        mine.status() == 200,
        "POST /workflows/shopping answered {}",
        mine.status()
    );
    let mine: Value = mine.json().await?;
    ensure!(
        mine["status"] == "completed" && mine["result"] == APPLES_AND_BANANAS,
        "unexpected sync answer: {mine}"
    );
    let mut remembered = vec![(str_field(&mine, "workflow_id")?, APPLES_AND_BANANAS)];

    let go_env = if runnable.iter().any(|e| e.tool() == Tool::Go) {
        go_env(tmp.path()).await
    } else {
        Vec::new()
    };
    for example in runnable {
        let t = Instant::now();
        let output = example.run(&guide, &go_env).await?;
        if let Some(id) = example.check(&output)? {
            remembered.push((id, "Ordered 3 Bananas..."));
        }
        eprintln!("{} passed in {:.1?}", example.file(), t.elapsed());
    }

    let owned = run.owned_processes(&state)?;
    run.stop(Signal::SIGINT, &owned).await?;

    // --- Second run on the same state: the workflows are still known. SIGTERM. ---
    ensure!(
        state.join("temporal.db").is_file(),
        "no Temporal database in {}",
        state.display()
    );
    let t = Instant::now();
    let mut run = LocalRun::start(&state, tmp.path().join("flowgate-dev-2.log"))?;
    run.wait_ready(&http).await?;
    eprintln!("local run restarted and ready in {:.1?}", t.elapsed());
    for (id, result) in &remembered {
        ensure_still_completed(&http, id, result).await?;
    }
    let owned = run.owned_processes(&state)?;
    run.stop(Signal::SIGTERM, &owned).await
}

/// The value after `label` on a banner line (`  API:          http://localhost:8000`).
fn banner_value<'a>(banner: &'a str, label: &str) -> Option<&'a str> {
    banner
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(str::trim)
}
