//! Temporal away: fast 503s with Retry-After from the API itself, which stays ready (readiness
//! turns false only to drain), and recovery without a restart.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use flowgate_testkit::{
    TestEnv, eventually, metrics,
    process::{Proc, Signal, free_port},
    shopping_body,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::{json, problem};

/// "Within about a second": the bound the API promises, with slack for a loaded machine.
const FAST: Duration = Duration::from_millis(1500);

#[tokio::test]
async fn while_temporal_is_down_requests_get_fast_503s_and_it_recovers_when_temporal_returns() {
    let mut env = TestEnv::start().await;
    let body = shopping_body(&[("APPLE", 1)]);
    let before = json(
        env.post_json("/workflows/shopping/async", &body).await,
        StatusCode::OK,
    )
    .await;
    let earlier_id = before["workflow_id"].as_str().unwrap().to_owned();

    env.temporal.kill().await.unwrap();

    // The first request after the outage began: answered within about a second.
    let begun = Instant::now();
    let response = env.post_json("/workflows/shopping/async", &body).await;
    let took = begun.elapsed();
    assert_eq!(response.headers()["retry-after"], "1");
    let problem_body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(problem_body["code"], "temporal-unavailable");
    assert!(took < FAST, "answered in {took:?}");

    eventually(
        Duration::from_secs(3),
        "GET / to say Temporal is not connected",
        || async {
            let root = json(env.get("/").await, StatusCode::OK).await;
            (root["temporal_connected"] == false).then_some(())
        },
    )
    .await;
    assert_eq!(
        json(env.get("/readyz").await, StatusCode::OK).await,
        json!({"status": "ready"}),
        "the API stays ready to answer for itself"
    );
    for path in [
        format!("/workflows/{earlier_id}/status"),
        format!("/workflows/{earlier_id}/result"),
    ] {
        let begun = Instant::now();
        problem(env.get(&path).await, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(
            begun.elapsed() < FAST,
            "{path} answered in {:?}",
            begun.elapsed()
        );
    }
    let begun = Instant::now();
    problem(
        env.post_json("/workflows/shopping", &body).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(
        begun.elapsed() < FAST,
        "sync start answered in {:?}",
        begun.elapsed()
    );

    // Temporal comes back (same database): Flowgate recovers without a restart.
    env.temporal.restart().await.unwrap();
    flowgate_testkit::temporal_connected(&env.http, &env.url(""), Duration::from_secs(15)).await;
    let after = json(
        env.post_json("/workflows/shopping", &shopping_body(&[("CHERRY", 4)]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after["result"], "Ordered 4 Cherries...");
    // The workflow accepted before the outage was not lost.
    let earlier = json(
        env.get(&format!("/workflows/{earlier_id}/result")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(earlier["result"], "Ordered 1 Apples...");
}

#[tokio::test]
async fn a_temporal_that_accepts_connections_but_never_answers_gets_bounded_503s() {
    // A black hole: the TCP handshake succeeds, no byte ever comes back.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = hole.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            open.push(socket);
        }
    });
    let mut env = TestEnv::builder()
        .without_worker()
        .without_api()
        .start()
        .await;
    env.settings.temporal.address = Some(address.to_string());
    env.start_api().await;

    for _ in 0..3 {
        let begun = Instant::now();
        let response = env
            .post_json("/workflows/shopping/async", &shopping_body(&[("APPLE", 1)]))
            .await;
        assert_eq!(response.headers()["retry-after"], "1");
        problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(begun.elapsed() < FAST, "answered in {:?}", begun.elapsed());
    }
    json(env.get("/readyz").await, StatusCode::OK).await;
    assert_eq!(
        json(env.get("/").await, StatusCode::OK).await["temporal_connected"],
        false
    );
    held.abort();
}

#[tokio::test]
async fn the_api_serves_and_stays_ready_before_temporal_exists_and_reaches_it_when_it_appears() {
    let mut env = TestEnv::builder().without_api().start().await;
    let real_address = env.temporal.address();
    env.temporal.kill().await.unwrap();
    env.start_api().await;

    // Ready to answer for itself while it connects: 503s naming no address.
    json(env.get("/readyz").await, StatusCode::OK).await;
    assert_eq!(
        json(env.get("/").await, StatusCode::OK).await["temporal_connected"],
        false
    );
    let response = env
        .post_json("/workflows/shopping", &shopping_body(&[("APPLE", 1)]))
        .await;
    assert_eq!(response.headers()["retry-after"], "1");
    let unavailable = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(unavailable["code"], "temporal-unavailable");
    assert!(
        !unavailable.to_string().contains(&real_address),
        "the address stays in the log: {unavailable}"
    );

    env.temporal.restart().await.unwrap();
    env.wait_ready().await;
    let out = json(
        env.post_json("/workflows/shopping", &shopping_body(&[("ORANGE", 2)]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(out["result"], "Ordered 2 Oranges...");
}

#[tokio::test]
async fn a_synchronous_start_that_loses_temporal_while_waiting_points_at_the_result_instead_of_failing()
 {
    let mut env = TestEnv::builder().without_worker().start().await;
    let mut body = shopping_body(&[("APPLE", 2)]);
    body["workflow_id"] = serde_json::json!("accepted-before-the-outage");
    let waiting = env.post_json("/workflows/shopping", &body);
    let outage = async {
        eventually(
            Duration::from_secs(10),
            "the workflow to be started",
            || async {
                let status = env
                    .get("/workflows/accepted-before-the-outage/status")
                    .await
                    .status();
                (status == StatusCode::OK).then_some(())
            },
        )
        .await;
        // The request is now waiting for the result: Temporal dies.
        kill_hard(env.temporal.pid().expect("the dev server runs"));
    };
    let (response, ()) = tokio::join!(waiting, outage);
    assert_eq!(
        response.headers()["location"],
        "/workflows/accepted-before-the-outage/result"
    );
    let out = json(response, StatusCode::ACCEPTED).await;
    assert_eq!(
        out["status"], "running",
        "the workflow was accepted; it is not reported as failed: {out}"
    );

    // Nothing was lost: once Temporal and a worker are back, the workflow completes.
    env.temporal.restart().await.unwrap();
    env.start_worker().await;
    env.wait_ready().await;
    let done = json(
        env.get("/workflows/accepted-before-the-outage/result")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["result"], "Ordered 2 Apples...");
}

fn kill_hard(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// What would tell an unauthenticated caller where Temporal runs or how the connection failed.
fn internal_details(address: &str) -> Vec<String> {
    let port = address.rsplit(':').next().unwrap().to_owned();
    let host = address.rsplit_once(':').unwrap().0.to_owned();
    let mut words: Vec<String> = [
        "tonic",
        "Error(",
        "ConnectError",
        "transport",
        "tcp",
        "refused",
        "os error",
        "Unavailable:",
    ]
    .map(str::to_owned)
    .to_vec();
    words.extend([address.to_owned(), host, port]);
    words
}

/// The body as the client sees it, minus the per-request ids (random, they could hold digits
/// that look like a port by chance).
fn visible(mut body: serde_json::Value) -> String {
    if let Some(fields) = body.as_object_mut() {
        fields.remove("request_id");
        fields.remove("trace_id");
    }
    body.to_string()
}

#[tokio::test]
async fn while_temporal_is_unreachable_answers_name_neither_its_address_nor_the_transport_error() {
    let mut env = TestEnv::builder()
        .without_worker()
        .without_api()
        .start()
        .await;
    let address = env.temporal.address();
    let forbidden = internal_details(&address);
    env.temporal.kill().await.unwrap();
    let port = free_port();
    let api = Proc::spawn(
        Path::new(env!("CARGO_BIN_EXE_flowgate-api")),
        &[],
        &[
            ("TEMPORAL_ADDRESS", address.clone()),
            ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_API__PORT", port.to_string()),
        ],
        env.dir().join("api.log"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let answers = || async {
        let mut bodies = vec![
            json(
                http.get(format!("{base}/readyz")).send().await.unwrap(),
                StatusCode::OK,
            )
            .await,
        ];
        let requests = [
            http.post(format!("{base}/workflows/shopping/async"))
                .json(&shopping_body(&[("APPLE", 1)])),
            http.post(format!("{base}/v1/workflows/shopping"))
                .json(&json!({"input": {"items": [{"fruit": "APPLE", "amount": 1}]}})),
            http.get(format!("{base}/v1/workflows/some-id")),
            http.get(format!("{base}/workflows/some-id/status")),
        ];
        for request in requests {
            let body = problem(
                request.send().await.unwrap(),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await;
            assert_eq!(body["code"], "temporal-unavailable", "{body}");
            bodies.push(body);
        }
        bodies
    };
    let assert_clean = |stage: &str, bodies: Vec<serde_json::Value>| {
        for body in bodies {
            let text = visible(body);
            for word in &forbidden {
                assert!(!text.contains(word.as_str()), "{stage}: {word:?} in {text}");
            }
        }
    };

    // Never connected: the API keeps trying, and says why only in its log.
    eventually(
        Duration::from_secs(20),
        "a failed connection attempt to be logged",
        || async {
            api.log_text()
                .contains("cannot connect to Temporal")
                .then_some(())
        },
    )
    .await;
    assert_clean("connecting", answers().await);
    assert!(api.log_text().contains(&address), "{}", api.log_text());

    // Connected once, then lost.
    env.temporal.restart().await.unwrap();
    flowgate_testkit::temporal_connected(&http, &base, Duration::from_secs(20)).await;
    env.temporal.kill().await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the lost connection to be logged",
        || async {
            api.log_text()
                .contains("Temporal is unreachable")
                .then_some(())
        },
    )
    .await;
    assert_clean("lost", answers().await);
}

#[tokio::test]
async fn while_temporal_is_unreachable_the_api_stays_ready_and_answers_503s_itself_until_sigterm_drains_it()
 {
    // Arrange: the API binary (SIGTERM is how a pod is stopped), connected to Temporal.
    let mut env = TestEnv::builder()
        .without_worker()
        .without_api()
        .start()
        .await;
    let (port, admin) = (free_port(), free_port());
    let mut api = Proc::spawn(
        Path::new(env!("CARGO_BIN_EXE_flowgate-api")),
        &[],
        &[
            ("TEMPORAL_ADDRESS", env.temporal.address()),
            ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_API__PORT", port.to_string()),
            ("FLOWGATE_METRICS__API_ADMIN_HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_METRICS__API_ADMIN_PORT", admin.to_string()),
            ("FLOWGATE_API__SHUTDOWN_DELAY", "3s".to_owned()),
        ],
        env.dir().join("api.log"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let metrics_url = format!("http://127.0.0.1:{admin}/metrics");
    let http = reqwest::Client::new();
    flowgate_testkit::temporal_connected(&http, &base, Duration::from_secs(20)).await;
    let temporal_up = || async {
        metrics::scrape(&http, &metrics_url)
            .await
            .value("flowgate_temporal_up", &[])
    };
    assert_eq!(temporal_up().await, Some(1.0));

    // Act: Temporal goes away.
    env.temporal.kill().await.unwrap();
    eventually(
        Duration::from_secs(5),
        "GET / to say Temporal is not connected",
        || async {
            let root = json(
                http.get(format!("{base}/")).send().await.ok()?,
                StatusCode::OK,
            )
            .await;
            (root["temporal_connected"] == false).then_some(())
        },
    )
    .await;

    // Assert: still ready; the API answers for itself, with Retry-After.
    let ready = || async { http.get(format!("{base}/readyz")).send().await.unwrap() };
    assert_eq!(
        json(ready().await, StatusCode::OK).await,
        json!({"status": "ready"})
    );
    let requests = [
        http.post(format!("{base}/v1/workflows/shopping"))
            .json(&json!({"input": {"items": [{"fruit": "APPLE", "amount": 1}]}})),
        http.get(format!("{base}/v1/workflows/some-order")),
        http.get(format!("{base}/v1/workflows/some-order/result?wait=5")),
    ];
    for request in requests {
        let begun = Instant::now();
        let response = request.send().await.unwrap();
        assert!(begun.elapsed() < FAST, "answered in {:?}", begun.elapsed());
        assert_eq!(response.headers()["retry-after"], "1");
        let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(body["code"], "temporal-unavailable", "{body}");
    }
    assert_eq!(temporal_up().await, Some(0.0));
    assert_eq!(
        json(ready().await, StatusCode::OK).await,
        json!({"status": "ready"}),
        "still ready after the 503s"
    );

    // Only the drain turns readiness false.
    api.signal(Signal::SIGTERM);
    let draining = eventually(
        Duration::from_secs(2),
        "readiness to report draining",
        || async {
            let response = http.get(format!("{base}/readyz")).send().await.ok()?;
            (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
        },
    )
    .await;
    let body = problem(draining, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["detail"], "not ready: shutting down");
    let status = api.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", api.log_text());
}
