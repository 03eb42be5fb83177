//! Fault injection under load: Temporal is killed and restarted while clients keep starting
//! workflows. What clients see: fast 503s while it is down, recovery without restarting the API,
//! no other 5xx, no hangs, and every accepted start runs to its result.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use flowgate_testkit::{TestEnv, eventually, shopping_body};
use futures::{StreamExt, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::watch;

/// The bound on a 503 once the API knows Temporal is down (measured: under 200 ms; it does not
/// call Temporal at all), and on how long after that a request sent earlier is answered.
const FAST: Duration = Duration::from_secs(1);
/// Longest any request may take: beyond it, it counts as a hang.
const HANG: Duration = Duration::from_secs(10);
/// How soon after Temporal is back a start must succeed again.
const RECOVERY: Duration = Duration::from_secs(5);
/// Concurrent clients.
const CLIENTS: usize = 8;
/// Pause between one client's requests, so fast 503s do not turn into a busy loop.
const PACE: Duration = Duration::from_millis(50);

/// One answered (or failed) start, as a client saw it.
#[derive(Debug, Clone)]
struct Record {
    client: usize,
    sent: Instant,
    done: Instant,
    answer: Result<Answer, String>,
}

#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    body: Value,
}

impl Record {
    fn took(&self) -> Duration {
        self.done - self.sent
    }

    fn accepted(&self) -> bool {
        matches!(&self.answer, Ok(a) if a.status.is_success())
    }
}

type Log = Arc<Mutex<Vec<Record>>>;

/// Keeps POSTing asynchronous starts until told to stop, recording every answer.
async fn client_loop(
    client: usize,
    http: reqwest::Client,
    url: String,
    mut stop: watch::Receiver<bool>,
    log: Log,
) {
    let body = json!({ "input": shopping_body(&[("APPLE", 1)]) });
    let mut pace = tokio::time::interval(PACE);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = pace.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let sent = Instant::now();
        let answer = async {
            let response = http
                .post(&url)
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("{e:?}"))?;
            let status = response.status();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let content_type = header("content-type").unwrap_or_default();
            let retry_after = header("retry-after");
            let text = response.text().await.map_err(|e| format!("{e:?}"))?;
            let body = serde_json::from_str(&text)
                .map_err(|e| format!("{status}: not JSON ({e}): {text}"))?;
            Ok(Answer {
                status,
                content_type,
                retry_after,
                body,
            })
        }
        .await;
        let done = Instant::now();
        log.lock().unwrap().push(Record {
            client,
            sent,
            done,
            answer,
        });
    }
}

fn snapshot(log: &Log) -> Vec<Record> {
    log.lock().unwrap().clone()
}

/// Whether every client has at least `n` records matching `keep`.
fn every_client_has(log: &Log, n: usize, keep: impl Fn(&Record) -> bool) -> bool {
    let records = snapshot(log);
    (0..CLIENTS).all(|c| records.iter().filter(|r| r.client == c && keep(r)).count() >= n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_killed_and_restarted_under_load() {
    let mut env = TestEnv::start().await;
    let http = reqwest::Client::builder()
        .timeout(HANG)
        .build()
        .expect("HTTP client");
    let log: Log = Arc::default();
    let (stop, stopped) = watch::channel(false);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            tokio::spawn(client_loop(
                client,
                http.clone(),
                env.url("/v1/workflows/shopping"),
                stopped.clone(),
                log.clone(),
            ))
        })
        .collect();

    // The load runs: every client has had starts accepted.
    eventually(
        Duration::from_secs(30),
        "every client to have starts accepted",
        || async { every_client_has(&log, 5, Record::accepted).then_some(()) },
    )
    .await;

    env.temporal.kill().await.unwrap();
    let killed = Instant::now();
    // The API learns of the outage from its own checks (`temporal.health_failure_threshold`
    // failures `temporal.health_interval` apart, 1.5 s by default); until then a start waits for
    // the client's retries, and is ended with a 503 when the link goes down.
    eventually(
        Duration::from_secs(3),
        "GET / to say Temporal is not connected",
        || async {
            let root: serde_json::Value = env.get("/").await.json().await.ok()?;
            (root["temporal_connected"] == false).then_some(())
        },
    )
    .await;
    let detected = Instant::now();
    // The API stays in the Service to answer its own 503s.
    assert_eq!(env.get("/readyz").await.status(), StatusCode::OK);
    // Every client keeps getting answers while Temporal is down.
    eventually(
        Duration::from_secs(10),
        "every client to be answered while Temporal is down",
        || async { every_client_has(&log, 5, |r| r.sent >= detected).then_some(()) },
    )
    .await;

    let restarting = Instant::now();
    env.temporal.restart().await.unwrap();
    let back = Instant::now();
    // Recovery without restarting the API: ready again, and starts succeed.
    flowgate_testkit::temporal_connected(&env.http, &env.url(""), RECOVERY).await;
    let first = eventually(
        RECOVERY.saturating_sub(back.elapsed()),
        "a start to succeed after Temporal is back",
        || async {
            snapshot(&log)
                .into_iter()
                .filter(|r| r.sent >= back && r.accepted())
                .map(|r| r.done)
                .min()
        },
    )
    .await;
    let recovered_in = first - back;
    assert!(
        recovered_in < RECOVERY,
        "first successful start {recovered_in:?} after Temporal was back"
    );
    eventually(
        Duration::from_secs(10),
        "every client to have a start accepted after the restart",
        || async { every_client_has(&log, 2, |r| r.sent >= back && r.accepted()).then_some(()) },
    )
    .await;

    let _ = stop.send(true);
    for client in clients {
        client.await.expect("client loop");
    }
    let records = snapshot(&log);

    // No hangs, no failed connections: every request was answered in bounded time.
    for record in &records {
        assert!(
            record.answer.is_ok(),
            "client {} got no answer after {:?}: {:?}",
            record.client,
            record.took(),
            record.answer
        );
        assert!(
            record.took() < HANG,
            "a request took {:?}: {record:?}",
            record.took()
        );
    }
    // Every answer is an accepted start or a "Temporal unavailable" 503 problem.
    for record in &records {
        let answer = record.answer.as_ref().unwrap();
        match answer.status {
            StatusCode::ACCEPTED => {
                assert_eq!(answer.body["status"], "running", "{}", answer.body);
                assert!(answer.body["workflow_id"].is_string(), "{}", answer.body);
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(
                    answer.content_type, "application/problem+json",
                    "{}",
                    answer.body
                );
                assert_eq!(
                    answer.body["code"], "temporal-unavailable",
                    "{}",
                    answer.body
                );
                assert_eq!(answer.retry_after.as_deref(), Some("1"), "{}", answer.body);
            }
            other => panic!("unexpected {other}: {}", answer.body),
        }
    }
    // While Temporal was down (sent after the kill, answered before the restart began): only
    // 503s — at once once the API knew, and those sent before it knew soon after it did.
    let down: Vec<_> = records
        .iter()
        .filter(|r| r.sent >= killed && r.done <= restarting)
        .collect();
    assert!(
        down.len() >= CLIENTS,
        "only {} requests during the outage",
        down.len()
    );
    for record in &down {
        let answer = record.answer.as_ref().unwrap();
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "answered while Temporal was down: {}",
            answer.body
        );
        if record.sent >= detected {
            assert!(
                record.took() < FAST,
                "a 503 took {:?} after the API knew Temporal was down",
                record.took()
            );
        } else {
            assert!(
                record.done < detected + FAST,
                "a start sent {:?} after the kill was answered {:?} after the API knew Temporal \
                 was down",
                record.sent - killed,
                record.done.saturating_duration_since(detected)
            );
        }
    }
    assert!(
        down.iter().any(|r| r.sent >= detected),
        "no request was sent while the API knew Temporal was down"
    );

    // Every accepted start names its own workflow, which exists and completes with its result —
    // also those accepted just before the kill.
    let accepted: Vec<String> = records
        .iter()
        .filter(|r| r.accepted())
        .map(|r| {
            let answer = r.answer.as_ref().unwrap();
            answer.body["workflow_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let distinct: HashSet<_> = accepted.iter().collect();
    assert_eq!(distinct.len(), accepted.len(), "a workflow id was reused");
    let before_kill = records
        .iter()
        .filter(|r| r.accepted() && r.done < killed)
        .count();
    let after_back = records
        .iter()
        .filter(|r| r.accepted() && r.sent >= back)
        .count();
    // A workflow whose task or activity was with the worker when Temporal died waits for that
    // task's timeout (an activity's start-to-close is 30 s) before it goes on: allow for it.
    let env = &env;
    let verifying = Instant::now();
    let results: Vec<(String, Value)> = stream::iter(accepted.iter().cloned())
        .map(|id| async move {
            let path = format!("/v1/workflows/{id}/result?wait=20s");
            let body = eventually(
                Duration::from_secs(60),
                &format!("{id} to complete"),
                || async {
                    let response = env.get(&path).await;
                    match response.status() {
                        StatusCode::OK => Some(response.json::<Value>().await.expect("JSON")),
                        StatusCode::ACCEPTED => None,
                        other => panic!("{id}: {other} {}", response.text().await.unwrap()),
                    }
                },
            )
            .await;
            (id, body)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let verified_in = verifying.elapsed();
    for (id, body) in &results {
        assert_eq!(body["workflow_id"], id.as_str(), "{body}");
        assert_eq!(body["status"], "completed", "{id}: {body}");
        assert_eq!(body["result"], "Ordered 1 Apples...", "{id}: {body}");
    }
    eprintln!(
        "{} requests, {} accepted ({before_kill} before the kill, {after_back} after the \
         restart), {} while Temporal was down; a start succeeded {recovered_in:?} after it was \
         back; all results read in {verified_in:?}",
        records.len(),
        accepted.len(),
        down.len()
    );
}
