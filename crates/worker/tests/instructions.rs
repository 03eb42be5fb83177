//! The worker's instruction budget (`crates/worker/instruction-budget.toml`): Flowgate's worker
//! binary, built beside this test (debug under `cargo test`), runs under valgrind's callgrind
//! against a real Temporal dev server; the instructions per shopping workflow, end to end (its
//! workflow tasks, its activity, the polls and calls that carry them), are the difference between
//! 2N and N workflows run one at a time, divided by N, each phase read from a callgrind dump of
//! the same process. A figure above its budget × `max_ratio` fails (a regression), one below
//! budget × `min_ratio` fails too (update the budget to lock the improvement in:
//! `FLOWGATE_UPDATE_BUDGET=1`).
//!
//! An idle worker still works: each of its pollers' long polls that Temporal ends empty (about a
//! minute after it was sent) is answered by a new one. The five activity pollers never get a task
//! here (activities arrive eagerly, with the workflow task's completion), so theirs expire
//! together, about once a minute, ~6 M instructions in the debug build: more than half a workflow.
//! Where that falls depends on wall time, not on the workflows, so a measurement during which any
//! long poll came back empty (the worker's own `*_poll_empty` / `*_poll_no_task` counters moved)
//! is discarded and taken again.

use std::{path::Path, time::Duration};

use flowgate_testkit::{
    TestEnv,
    instructions::{self, Callgrind},
    process::{Proc, free_port},
};
use temporalio_client::{Client, UntypedWorkflow, WorkflowStartOptions};
use temporalio_common::{data_converters::RawValue, protos::temporal::api::common::v1::Payload};

const BIN: &str = env!("CARGO_BIN_EXE_flowgate-worker");
const BUDGET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/instruction-budget.toml");
/// Workflows of the shorter phase (the longer one runs twice as many).
const N: u64 = 10;
/// Workflows run before the measurement: the first ones run code valgrind has not translated
/// yet, and fill the worker's connection pools and caches.
const WARM_UP: u64 = 5;
/// Longest a workflow may take under valgrind: the first ones translate the worker's code on a
/// machine that may be busy with other tests; a hang, not slowness, is what this bound catches.
const COMPLETES_WITHIN: Duration = Duration::from_secs(300);
/// Measurements taken before giving up when idle long polls came back empty during each.
const ATTEMPTS: u32 = 4;

#[test]
fn instructions_per_workflow_of_the_worker_stay_within_the_budget() {
    if !instructions::callgrind_available() {
        return;
    }
    // Arrange: the worker binary of this build (or of FLOWGATE_INSTRUCTIONS_BIN_DIR).
    let (worker, profile) = instructions::fresh_binary("flowgate-worker", BIN);

    // Act
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let measured = runtime.block_on(measure(&worker));
    eprintln!(
        "measured in {:.0} s ({profile} build)",
        started.elapsed().as_secs_f64()
    );

    // Assert (or update)
    instructions::check_budget(BUDGET, &profile, "workflow", &measured);
}

/// Instructions per shopping workflow, in one worker process under callgrind.
async fn measure(worker: &Path) -> Vec<(&'static str, u64)> {
    let env = TestEnv::builder()
        .without_worker()
        .without_api()
        .start()
        .await;
    let client = env.temporal_client().await;
    let health = free_port();
    let out = env.dir().join("callgrind.out");
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let worker_arg = worker.display().to_string();
    let envs = [
        ("TEMPORAL_ADDRESS", env.temporal.address()),
        ("FLOWGATE_WORKER__HEALTH_HOST", "127.0.0.1".to_owned()),
        ("FLOWGATE_WORKER__HEALTH_PORT", health.to_string()),
        // Slow under valgrind: generous bounds, and no periodic reachability checks between the
        // measured workflows.
        ("FLOWGATE_TEMPORAL__CONNECT_TIMEOUT", "60s".to_owned()),
        ("FLOWGATE_TEMPORAL__RPC_TIMEOUT", "30s".to_owned()),
        ("FLOWGATE_TEMPORAL__HEALTH_INTERVAL", "1h".to_owned()),
        ("FLOWGATE_TEMPORAL__HEALTH_TIMEOUT", "60s".to_owned()),
        // What the worker logs is part of what it executes: an inherited RUST_LOG must not move
        // the figure.
        ("RUST_LOG", "info".to_owned()),
    ];
    let mut valgrind = Proc::spawn(
        Path::new("valgrind"),
        &["--tool=callgrind", "--dump-line=no", &out_arg, &worker_arg],
        &envs,
        env.dir().join("worker.log"),
    );
    let mut callgrind = Callgrind::new(valgrind.pid().expect("valgrind runs"), &out);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{health}");
    wait_ready(&http, &base, &valgrind).await;
    run(&client, &mut valgrind, "warm-up", WARM_UP).await;
    for attempt in 1..=ATTEMPTS {
        let before = empty_polls(&http, &base).await;
        callgrind.dump().await;
        run(&client, &mut valgrind, &format!("once-{attempt}"), N).await;
        let once = callgrind.dump().await;
        run(&client, &mut valgrind, &format!("twice-{attempt}"), 2 * N).await;
        let twice = callgrind.dump().await;
        let empty = empty_polls(&http, &base).await - before;
        if empty == 0 {
            return vec![("shopping", twice.saturating_sub(once) / N)];
        }
        eprintln!(
            "measurement {attempt}: {empty} idle long polls came back empty during it \
             ({} per workflow): measuring again",
            twice.saturating_sub(once) / N
        );
    }
    panic!("idle long polls came back empty during each of {ATTEMPTS} measurements");
}

/// Runs `count` one-item shopping workflows (ids `{prefix}-{n}`) one at a time, each to
/// completion, straight through Temporal.
async fn run(client: &Client, worker: &mut Proc, prefix: &str, count: u64) {
    let input = serde_json::json!({"items": [{"fruit": "APPLE", "amount": 1}]});
    let payload = Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(&input).unwrap(),
        ..Default::default()
    };
    for n in 0..count {
        let id = format!("{prefix}-{n}");
        // A workflow task may take seconds under valgrind the first time its code runs: more than
        // Temporal's default of 10 s would be a retry, not a slower task (120 s is Temporal's
        // longest).
        let options = WorkflowStartOptions::new("shopping-tasks", id.clone())
            .task_timeout(Duration::from_secs(120))
            .build();
        let handle = client
            .start_workflow(
                UntypedWorkflow::new("ShoppingWorkflow"),
                RawValue::new(vec![payload.clone()]),
                options,
            )
            .await
            .unwrap_or_else(|e| panic!("{id} starts: {e}"));
        let result =
            tokio::time::timeout(COMPLETES_WITHIN, handle.get_result(Default::default())).await;
        match result {
            Ok(result) => assert!(result.is_ok(), "{id} completed: {result:?}"),
            Err(_) => panic!(
                "{id} did not complete within {COMPLETES_WITHIN:?} (the worker has {}); log:\n{}",
                if worker.has_exited() {
                    "exited"
                } else {
                    "not exited"
                },
                worker.log_text()
            ),
        }
    }
}

/// The long polls the worker has seen come back without a task, from its `/metrics`.
async fn empty_polls(http: &reqwest::Client, base: &str) -> u64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            !l.starts_with('#') && (l.contains("_poll_empty") || l.contains("_poll_no_task"))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Polls `/readyz` until the worker is polling Temporal (at most 180 s: valgrind is slow to
/// start a large binary).
async fn wait_ready(http: &reqwest::Client, base: &str, worker: &Proc) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status() == reqwest::StatusCode::OK
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker did not start polling under valgrind; log:\n{}",
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
