//! SIGTERM never cuts a wait: every request waiting for a workflow (or an update) is answered at
//! once with what the API has — the same answer as a wait that ran out — and the process exits
//! without spending its grace period.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use flowgate_testkit::{
    TestEnv, eventually, metrics,
    process::{Proc, Signal, free_port},
    shopping_body, temporal,
};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::{json, problem};

const BIN: &str = env!("CARGO_BIN_EXE_flowgate-api");

/// Each order takes this long: every wait below would otherwise last until it ends.
const ORDER_DELAY: Duration = Duration::from_secs(8);
/// How long the drained API keeps its listener open (readiness false meanwhile).
const SHUTDOWN_DELAY: Duration = Duration::from_secs(3);
/// "At once": well under the order delay and the drain delay, let alone the grace period.
const AT_ONCE: Duration = Duration::from_secs(2);

/// The API binary with default waits and grace, a drain delay, and its admin port known.
struct Api {
    proc: Proc,
    base: String,
    metrics: String,
    http: reqwest::Client,
}

impl Api {
    async fn start(env: &TestEnv) -> Self {
        let (port, admin) = (free_port(), free_port());
        let envs = [
            ("TEMPORAL_ADDRESS", env.temporal.address()),
            ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_API__PORT", port.to_string()),
            ("FLOWGATE_METRICS__API_ADMIN_PORT", admin.to_string()),
            (
                "FLOWGATE_API__SHUTDOWN_DELAY",
                format!("{}s", SHUTDOWN_DELAY.as_secs()),
            ),
        ];
        let proc = Proc::spawn(Path::new(BIN), &[], &envs, env.dir().join("api.log"));
        let api = Self {
            proc,
            base: format!("http://127.0.0.1:{port}"),
            metrics: format!("http://127.0.0.1:{admin}/metrics"),
            http: reqwest::Client::new(),
        };
        flowgate_testkit::temporal_connected(&api.http, &api.base, Duration::from_secs(20)).await;
        api
    }

    async fn readiness(&self, expected: StatusCode) -> Option<()> {
        let response = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .ok()?;
        (response.status() == expected).then_some(())
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.base)).json(body)
    }

    /// Requests the API is serving, and workflows it has started.
    async fn in_flight(&self) -> (f64, f64) {
        let scrape = metrics::scrape(&self.http, &self.metrics).await;
        (
            scrape.sum("http_server_active_requests", &[]),
            scrape.sum(
                "flowgate_temporal_request_duration_seconds_count",
                &[("operation", "start")],
            ),
        )
    }
}

/// Sends `request` in the background.
fn send(request: RequestBuilder) -> tokio::task::JoinHandle<reqwest::Result<Response>> {
    tokio::spawn(request.send())
}

/// The answer of a request sent earlier, which must come within `AT_ONCE` of `since`.
async fn answered(
    what: &str,
    request: tokio::task::JoinHandle<reqwest::Result<Response>>,
    since: Instant,
) -> Response {
    let left = AT_ONCE.saturating_sub(since.elapsed());
    let response = tokio::time::timeout(left, request)
        .await
        .unwrap_or_else(|_| panic!("{what}: not answered within {AT_ONCE:?} of SIGTERM"))
        .unwrap()
        .unwrap_or_else(|e| panic!("{what}: no answer, {e}"));
    assert!(
        since.elapsed() < AT_ONCE,
        "{what}: answered {:?} after SIGTERM",
        since.elapsed()
    );
    response
}

/// A 202 with status running, no result, and `Location` (`location` of its workflow id): the
/// answer of a wait that ran out. Returns the body.
async fn still_running(response: Response, location: impl Fn(&str) -> String) -> Value {
    let header = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let out = json(response, StatusCode::ACCEPTED).await;
    assert_eq!(out["status"], "running", "{out}");
    assert_eq!(out["result"], Value::Null, "{out}");
    let id = out["workflow_id"].as_str().expect("a workflow id");
    assert_eq!(header, Some(location(id)), "{out}");
    out
}

fn guide_location(id: &str) -> String {
    format!("/workflows/{id}/result")
}

fn v1_location(id: &str) -> String {
    format!("/v1/workflows/{id}/result")
}

#[tokio::test]
async fn sigterm_answers_every_waiting_request_at_once_and_no_workflow_is_lost() {
    // Arrange: slow orders; workflows to wait for; an update no worker will ever run.
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = ORDER_DELAY)
        .start()
        .await;
    let mut body = shopping_body(&[("APPLE", 5)]);
    body["workflow_id"] = json!("drain-guide-result");
    json(
        env.post_json("/workflows/shopping/async", &body).await,
        StatusCode::OK,
    )
    .await;
    let v1_start = |id: &str| json!({"input": shopping_body(&[("APPLE", 5)]), "workflow_id": id});
    json(
        env.post_json("/v1/workflows/shopping", &v1_start("drain-v1-result"))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let client = env.temporal_client().await;
    temporal::start_raw(
        &client,
        "ExternalWorkflow",
        "external-tasks",
        "drain-update",
        &json!({}),
    )
    .await;
    let api = Api::start(&env).await;

    // Six requests wait: a guide start without a workflow id (the one a retry would order
    // twice), a guide result, /v1 starts with ?wait and Prefer: wait, a /v1 result with ?wait,
    // and an update.
    let guide_start = send(api.post("/workflows/shopping", &shopping_body(&[("APPLE", 5)])));
    let guide_result = send(api.get("/workflows/drain-guide-result/result"));
    let v1_wait = send(api.post("/v1/workflows/shopping?wait=30", &v1_start("drain-v1-wait")));
    let v1_prefer = send(
        api.post("/v1/workflows/shopping", &v1_start("drain-v1-prefer"))
            .header("prefer", "wait=30"),
    );
    let v1_result = send(api.get("/v1/workflows/drain-v1-result/result?wait=30"));
    let update = send(
        api.post("/v1/workflows/drain-update/updates/note", &json!("hello"))
            .header("idempotency-key", "drain-update-1"),
    );
    eventually(
        Duration::from_secs(10),
        "six requests in flight, three workflows started",
        || async { (api.in_flight().await == (6.0, 3.0)).then_some(()) },
    )
    .await;

    // Act
    api.proc.signal(Signal::SIGTERM);
    let sigterm = Instant::now();

    // Assert: each is answered at once, as when its wait runs out.
    let started = still_running(
        answered("guide start", guide_start, sigterm).await,
        guide_location,
    )
    .await;
    let started_id = started["workflow_id"].as_str().unwrap().to_owned();
    assert!(started_id.starts_with("shopping-workflow-"), "{started}");
    still_running(
        answered("guide result", guide_result, sigterm).await,
        guide_location,
    )
    .await;
    still_running(
        answered("v1 start ?wait", v1_wait, sigterm).await,
        v1_location,
    )
    .await;
    let response = answered("v1 start Prefer: wait", v1_prefer, sigterm).await;
    assert_eq!(response.headers()["preference-applied"], "wait=30");
    still_running(response, v1_location).await;
    still_running(
        answered("v1 result ?wait", v1_result, sigterm).await,
        v1_location,
    )
    .await;
    let out = problem(
        answered("update", update, sigterm).await,
        StatusCode::GATEWAY_TIMEOUT,
    )
    .await;
    assert_eq!(out["code"], "update-timed-out", "{out}");
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .contains("retry with the same Idempotency-Key"),
        "{out}"
    );

    // A waiting request arriving during the drain delay is answered at once too.
    eventually(
        Duration::from_secs(1),
        "readiness to report draining",
        || api.readiness(StatusCode::SERVICE_UNAVAILABLE),
    )
    .await;
    let arrived = Instant::now();
    let late_start = send(api.post("/workflows/shopping", &shopping_body(&[("APPLE", 5)])));
    let late_result = send(api.get("/workflows/drain-guide-result/result"));
    let late = still_running(
        answered("start during the drain", late_start, arrived).await,
        guide_location,
    )
    .await;
    let late_id = late["workflow_id"].as_str().unwrap().to_owned();
    still_running(
        answered("result during the drain", late_result, arrived).await,
        guide_location,
    )
    .await;

    // The process exits once the drain delay is over, without spending its grace period.
    let mut proc = api.proc;
    let status = proc
        .wait_exit(SHUTDOWN_DELAY + Duration::from_secs(4))
        .await;
    assert!(status.success(), "{status:?}\n{}", proc.log_text());
    assert!(
        !proc
            .log_text()
            .contains("did not finish within the grace period"),
        "{}",
        proc.log_text()
    );

    // Every workflow goes on and completes, and the id-less starts ordered exactly once each.
    for id in [
        started_id.as_str(),
        late_id.as_str(),
        "drain-guide-result",
        "drain-v1-wait",
        "drain-v1-prefer",
        "drain-v1-result",
    ] {
        let out = json(
            env.get(&format!("/workflows/{id}/result?wait=20")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(out["status"], "completed", "{id}: {out}");
        assert_eq!(out["result"], "Ordered 5 Apples...", "{id}: {out}");
    }
    let list = json(env.get("/v1/workflows").await, StatusCode::OK).await;
    let mut generated: Vec<_> = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["workflow_id"].as_str())
        .filter(|id| id.starts_with("shopping-workflow-"))
        .collect();
    generated.sort_unstable();
    let mut expected = vec![started_id.as_str(), late_id.as_str()];
    expected.sort_unstable();
    assert_eq!(generated, expected);
}

#[tokio::test]
async fn sigterm_ends_event_streams_at_once_and_they_resume_elsewhere() {
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = ORDER_DELAY)
        .start()
        .await;
    let start = json!({"input": shopping_body(&[("APPLE", 5)]), "workflow_id": "drain-stream"});
    json(
        env.post_json("/v1/workflow-types/shopping/start", &start)
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let api = Api::start(&env).await;
    let mut stream = api
        .get("/v1/workflows/drain-stream/events")
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    // Read until the order is under way: the stream then waits for the workflow's next event.
    let mut seen = String::new();
    while !seen.contains("event: activity_scheduled") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("events in time")
            .unwrap()
            .expect("the stream is open");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }

    api.proc.signal(Signal::SIGTERM);
    let sigterm = Instant::now();

    // The stream ends at once, though the workflow runs on: the client resumes elsewhere.
    let ended = tokio::time::timeout(AT_ONCE, async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream still open {:?} after SIGTERM",
        sigterm.elapsed()
    );
    assert!(!seen.contains("workflow_completed"), "{seen}");
    let last = seen
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .next_back()
        .expect("events with ids")
        .to_owned();
    let mut proc = api.proc;
    let status = proc
        .wait_exit(SHUTDOWN_DELAY + Duration::from_secs(4))
        .await;
    assert!(status.success(), "{status:?}\n{}", proc.log_text());

    // Another replica (the test's own API) takes over where the stream was.
    let rest = env
        .http
        .get(env.url("/v1/workflows/drain-stream/events"))
        .header("accept", "text/event-stream")
        .header("last-event-id", &last)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(rest.contains("event: workflow_completed"), "{rest}");
    assert!(
        !rest.contains(&format!("id: {last}\n")),
        "no event twice: {rest}"
    );
}
