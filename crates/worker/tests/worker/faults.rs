//! Fault injection: the real worker binary is SIGKILLed while activities run, and a new worker
//! finishes every workflow — each item ordered once, in order, in a single run.

use std::{
    os::unix::process::ExitStatusExt,
    path::Path,
    time::{Duration, Instant},
};

use flowgate_testkit::{
    TestEnv, eventually,
    process::{Proc, Signal, free_port},
    shopping_body, temporal,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use temporalio_client::{UntypedWorkflow, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use super::{BIN, Probe, worker_envs};

const WORKFLOWS: usize = 10;
const FRUITS: [(&str, &str); 4] = [
    ("APPLE", "Apples"),
    ("BANANA", "Bananas"),
    ("CHERRY", "Cherries"),
    ("ORANGE", "Oranges"),
];

/// Workflow `i`'s shopping list: every fruit, with amounts that differ per workflow and item.
fn items(i: usize) -> Vec<(&'static str, i64)> {
    FRUITS
        .iter()
        .enumerate()
        .map(|(n, (fruit, _))| (*fruit, (i * 10 + n + 1) as i64))
        .collect()
}

fn expected_result(i: usize) -> String {
    FRUITS
        .iter()
        .enumerate()
        .map(|(n, (_, name))| format!("Ordered {} {name}...", i * 10 + n + 1))
        .collect()
}

fn spawn_worker(env: &TestEnv, name: &str) -> (Proc, Probe) {
    let health = free_port();
    let envs = worker_envs(
        &env.temporal.address(),
        health,
        &[("FLOWGATE_SHOPPING__ORDER_DELAY", "1s")],
    );
    let worker = Proc::spawn(Path::new(BIN), &[], &envs, env.dir().join(name));
    (worker, Probe::new(health))
}

#[tokio::test]
async fn worker_sigkilled_mid_workflow_then_restarted() {
    let env = TestEnv::builder().without_worker().start().await;
    let (mut first, probe) = spawn_worker(&env, "worker-1.log");
    probe
        .until("/readyz", StatusCode::OK, Duration::from_secs(20))
        .await;

    let ids: Vec<String> = (0..WORKFLOWS)
        .map(|i| format!("killed-worker-{i}"))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let body = json!({ "input": shopping_body(&items(i)), "workflow_id": id });
        let response = env.post_json("/v1/workflows/shopping", &body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }

    // Activities are running on the worker (each takes 1 s): kill it now, without warning.
    let client = env.temporal_client().await;
    let in_flight = eventually(
        Duration::from_secs(10),
        "an order activity to be running",
        || async {
            let mut started = 0;
            for id in &ids {
                started += temporal::started_activities(&client, id).await;
            }
            (started > 0).then_some(started)
        },
    )
    .await;
    first.signal(Signal::SIGKILL);
    let killed = Instant::now();
    let status = first.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.signal(), Some(9), "{status:?}");
    let unfinished = {
        let mut unfinished = 0;
        for id in &ids {
            unfinished += usize::from(temporal::pending_activities(&client, id).await > 0);
        }
        unfinished
    };
    assert!(
        unfinished > 0,
        "every workflow finished before the kill; nothing was interrupted"
    );

    // A new worker process takes over and finishes every workflow.
    let (mut second, probe) = spawn_worker(&env, "worker-2.log");
    probe
        .until("/readyz", StatusCode::OK, Duration::from_secs(20))
        .await;
    for (i, id) in ids.iter().enumerate() {
        // An activity lost with the first worker is retried after its 30 s start-to-close
        // timeout; each wait is at most api.result_wait (20 s in tests).
        let result = eventually(
            Duration::from_secs(50),
            &format!("{id} to complete"),
            || async {
                let response = env
                    .get(&format!("/v1/workflows/{id}/result?wait=20s"))
                    .await;
                if response.status() != StatusCode::OK {
                    return None;
                }
                Some(response.json::<Value>().await.expect("JSON result"))
            },
        )
        .await;
        assert_eq!(result["status"], "completed", "{id}: {result}");
        assert_eq!(result["result"], expected_result(i), "{id}: {result}");

        // Each item was ordered exactly once: one completed activity per item, never more.
        let events: Vec<Attributes> = client
            .get_workflow_handle::<UntypedWorkflow>(id.as_str())
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .expect("history")
            .into_iter()
            .filter_map(|e| e.attributes)
            .collect();
        let count = |f: fn(&Attributes) -> bool| events.iter().filter(|a| f(a)).count();
        assert_eq!(
            count(|a| matches!(a, Attributes::ActivityTaskScheduledEventAttributes(_))),
            FRUITS.len(),
            "{id}"
        );
        assert_eq!(
            count(|a| matches!(a, Attributes::ActivityTaskCompletedEventAttributes(_))),
            FRUITS.len(),
            "{id}"
        );
        assert_eq!(
            count(|a| matches!(a, Attributes::WorkflowExecutionCompletedEventAttributes(_))),
            1,
            "{id}"
        );
    }
    let recovered_in = killed.elapsed();

    // One run per workflow id: the crash started nothing anew.
    for id in &ids {
        let runs = eventually(
            Duration::from_secs(10),
            &format!("{id} to be listed as completed"),
            || async {
                let page: Value = env
                    .get(&format!("/v1/workflows?query=WorkflowId%3D%27{id}%27"))
                    .await
                    .json()
                    .await
                    .ok()?;
                let runs = page["workflows"].as_array()?.clone();
                runs.iter()
                    .any(|r| r["status"] == "completed")
                    .then_some(runs)
            },
        )
        .await;
        assert_eq!(runs.len(), 1, "{id}: {runs:?}");
    }

    second.signal(Signal::SIGTERM);
    assert!(
        second.wait_exit(Duration::from_secs(20)).await.success(),
        "{}",
        second.log_text()
    );
    eprintln!(
        "{in_flight} activities running at the kill, {unfinished} workflows interrupted; all \
         completed {recovered_in:?} after the kill"
    );
}
