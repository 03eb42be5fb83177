//! Completion webhooks against the real stack: a receiver that fails or is down at first still
//! gets the notification, signed (checked with `flowgate-client`), under one `webhook-id`, also
//! across restarts of the API, the worker and Temporal; destinations on private addresses are
//! refused; redirects are not followed; the delivery workflow stays out of `/v1`; a key that may
//! not read the workflow cannot read its callbacks.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    http::{HeaderMap, StatusCode as AxumStatus, header},
    response::IntoResponse,
    routing::post as route_post,
};
use flowgate_client::{WebhookNotification, verify_webhook};
use flowgate_config::{Secret, Settings};
use flowgate_testkit::{TestEnv, eventually, process::free_port};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    auth::{bearer, keys},
    json, problem,
    v1_support::{approval_start, get, post, segment, shopping_start},
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ROTATED: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3";
const WAIT: Duration = Duration::from_secs(90);

/// Callbacks to the test's own receivers (on loopback, over http), quick retries.
fn webhook_settings(s: &mut Settings) {
    s.webhooks.allow_private_addresses = true;
    s.webhooks.allow_http = true;
    s.webhooks.secrets = vec![Secret::new(SECRET), Secret::new(ROTATED)];
    s.webhooks.initial_retry_interval = Duration::from_millis(300);
    s.webhooks.max_retry_interval = Duration::from_secs(2);
    s.webhooks.attempt_timeout = Duration::from_secs(3);
}

/// One request a receiver got.
#[derive(Clone)]
struct Hit {
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

/// An HTTP receiver that answers 503 to its first `fail_first` requests, then `then`.
struct Receiver {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone, Copy)]
enum Then {
    Accept,
    RedirectTo(SocketAddr),
}

impl Receiver {
    async fn start(port: u16, fail_first: usize, then: Then) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the receiver's port is free");
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::new(AtomicUsize::new(0));
        let record = hits.clone();
        let app = Router::new().route(
            "/{*path}",
            route_post(move |headers: HeaderMap, body: Bytes| {
                let record = record.clone();
                let seen = seen.clone();
                async move {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let response = if n < fail_first {
                        (AxumStatus::SERVICE_UNAVAILABLE, "busy").into_response()
                    } else {
                        match then {
                            Then::Accept => AxumStatus::NO_CONTENT.into_response(),
                            Then::RedirectTo(to) => (
                                AxumStatus::FOUND,
                                [(header::LOCATION, format!("http://{to}/latest/meta-data"))],
                            )
                                .into_response(),
                        }
                    };
                    record.lock().unwrap().push(Hit {
                        headers,
                        body,
                        answered: response.status().as_u16(),
                    });
                    response
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, hits, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    async fn accepted(&self) -> Hit {
        eventually(WAIT, "the notification to be accepted", || async {
            self.hits().into_iter().find(|h| h.answered < 300)
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn webhook_id(hit: &Hit) -> String {
    hit.headers["webhook-id"].to_str().unwrap().to_owned()
}

/// What a receiver checks: a valid signature under the configured secret (and the one
/// rotated in), and a notification of the run.
fn verified(hit: &Hit) -> WebhookNotification {
    let tolerance = Duration::from_secs(300);
    for secret in [SECRET, ROTATED] {
        verify_webhook(&[secret], &hit.headers, &hit.body, tolerance)
            .unwrap_or_else(|e| panic!("signature under {secret}: {e}"));
    }
    assert!(
        verify_webhook(
            &["whsec_bm90LXRoZS1zZWNyZXQtYXQtYWxsLW5vcGU="],
            &hit.headers,
            &hit.body,
            tolerance
        )
        .is_err()
    );
    assert_eq!(hit.headers["content-type"], "application/json");
    serde_json::from_slice(&hit.body).expect("a WebhookNotification")
}

async fn callbacks_of(env: &TestEnv, workflow_id: &str, auth: &[(&str, &str)]) -> Value {
    let path = format!("/v1/workflows/{}/callbacks", segment(workflow_id));
    json(get(env, &path, auth).await, StatusCode::OK).await
}

async fn worker_metrics(env: &TestEnv) -> String {
    let url = format!("http://{}/metrics", env.worker_health());
    env.http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failing_receiver_gets_the_signed_notification_under_one_webhook_id() {
    let env = TestEnv::builder().settings(webhook_settings).start().await;
    let receiver = Receiver::start(0, 2, Then::Accept).await;
    let mut body = shopping_start(&[("APPLE", 2)]);
    body["callbacks"] = json!([
        { "url": receiver.url() },
        { "url": receiver.url(), "events": ["failed"] },
    ]);
    let key = [("Idempotency-Key", "webhook-order-1")];
    let started = json(
        post(&env, "/v1/workflow-types/shopping/start", Some(&body), &key).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let workflow_id = started["workflow_id"].as_str().unwrap().to_owned();
    let run_id = started["run_id"].as_str().unwrap().to_owned();

    let accepted = receiver.accepted().await;
    let notification = verified(&accepted);
    assert_eq!(notification.kind, "workflow.completed");
    assert_eq!(notification.data.workflow_id, workflow_id);
    assert_eq!(notification.data.run_id, run_id);
    assert_eq!(notification.data.workflow_type, "ShoppingWorkflow");
    assert_eq!(notification.data.result, Some(json!("Ordered 2 Apples...")));
    assert!(notification.data.started_at.is_some() && notification.data.closed_at.is_some());
    let hits = receiver.hits();
    assert_eq!(hits.len(), 3, "two 503s, then the accepted attempt");
    for hit in &hits {
        assert_eq!(
            webhook_id(hit),
            webhook_id(&accepted),
            "one webhook-id on every attempt"
        );
        verified(hit);
    }

    let state = eventually(WAIT, "the delivery to be recorded", || async {
        let state = callbacks_of(&env, &workflow_id, &[]).await;
        (state["callbacks"][0]["status"] == "delivered").then_some(state)
    })
    .await;
    assert_eq!(state["run_id"], json!(run_id));
    assert_eq!(state["closed_as"], "completed");
    assert_eq!(state["callbacks"][0]["attempts"], 3);
    assert_eq!(
        state["callbacks"][0]["webhook_id"],
        json!(webhook_id(&accepted))
    );
    assert!(state["callbacks"][0]["delivered_at"].is_string());
    assert_eq!(
        state["callbacks"][1]["status"], "skipped",
        "it wants failures only"
    );

    // A retry with the key returns the same run and registers nothing twice; the key with other
    // callbacks is another request.
    let replayed = post(&env, "/v1/workflow-types/shopping/start", Some(&body), &key).await;
    assert_eq!(
        json(replayed, StatusCode::OK).await["run_id"],
        json!(run_id)
    );
    let mut other = body.clone();
    other["callbacks"] = json!([{ "url": format!("http://{}/other", receiver.addr) }]);
    let reused = post(
        &env,
        "/v1/workflow-types/shopping/start",
        Some(&other),
        &key,
    )
    .await;
    assert_eq!(
        problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await["code"],
        "idempotency-key-reused"
    );

    let metrics = worker_metrics(&env).await;
    assert!(
        metrics.contains("flowgate_webhook_deliveries_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flowgate_webhook_delivery_attempts_total{outcome=\"rejected\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flowgate_webhook_delivery_latency_seconds_count 1"),
        "{metrics}"
    );
    assert_eq!(receiver.hits().len(), 3, "nothing was delivered twice");

    // Flowgate's own delivery workflow is not reachable through /v1.
    let delivery = segment(&format!("flowgate-callbacks/{run_id}"));
    for path in [
        format!("/v1/workflows/{delivery}"),
        format!("/v1/workflows/{delivery}/result"),
        format!("/v1/workflows/{delivery}/callbacks"),
    ] {
        let body = problem(get(&env, &path, &[]).await, StatusCode::NOT_FOUND).await;
        assert_eq!(body["code"], "workflow-not-found", "{path}");
    }
    let query = format!("/v1/workflows/{delivery}/queries/delivery_state");
    problem(post(&env, &query, None, &[]).await, StatusCode::NOT_FOUND).await;
    for query in [
        "",
        "?query=WorkflowType%20%3D%20%27FlowgateCallbackDelivery%27",
    ] {
        let page = json(
            get(&env, &format!("/v1/workflows{query}"), &[]).await,
            StatusCode::OK,
        )
        .await;
        let types: Vec<_> = page["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["workflow_type"].clone())
            .collect();
        assert!(
            !types.contains(&json!("FlowgateCallbackDelivery")),
            "{query}: {types:?}"
        );
    }
    let mut taken = shopping_start(&[("APPLE", 1)]);
    taken["workflow_id"] = json!(format!("flowgate-callbacks/{run_id}"));
    let refused = post(&env, "/v1/workflow-types/shopping/start", Some(&taken), &[]).await;
    let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"][0]["pointer"], "/workflow_id");
}

#[tokio::test]
async fn a_pending_delivery_survives_restarts_of_the_worker_the_api_and_temporal() {
    let mut env = TestEnv::builder().settings(webhook_settings).start().await;
    // The receiver is down: nothing listens on its port yet.
    let port = free_port();
    let mut body = approval_start("ACME");
    body["callbacks"] = json!([{ "url": format!("http://127.0.0.1:{port}/hook") }]);
    let started = json(
        post(
            &env,
            "/v1/workflow-types/order-approval/start",
            Some(&body),
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let workflow_id = started["workflow_id"].as_str().unwrap().to_owned();
    let state = callbacks_of(&env, &workflow_id, &[]).await;
    assert_eq!(state["callbacks"][0]["status"], "pending");
    assert!(state.get("closed_as").is_none());

    // Restarted while it waits for the close.
    env.stop_worker().await.expect("the worker drains");
    env.start_worker().await;
    let approve = format!("/v1/workflows/{}/signals/approve", segment(&workflow_id));
    let approved = post(&env, &approve, Some(&json!({"approver": "alice"})), &[]).await;
    assert!(approved.status().is_success(), "{}", approved.status());

    // Attempts fail while the receiver is down.
    let state = eventually(WAIT, "failed attempts", || async {
        let state = callbacks_of(&env, &workflow_id, &[]).await;
        (state["callbacks"][0]["attempts"].as_u64() >= Some(2)).then_some(state)
    })
    .await;
    assert_eq!(state["closed_as"], "completed");
    assert_eq!(state["callbacks"][0]["status"], "pending");
    assert!(state["callbacks"][0]["last_error"].is_string(), "{state}");

    // Restarted while it retries: the API, Temporal, the worker.
    env.stop_api().await.expect("the API stops");
    env.start_api().await;
    env.wait_ready().await;
    env.temporal.restart().await.expect("Temporal restarts");
    env.wait_ready().await;
    env.stop_worker().await.expect("the worker drains");
    env.start_worker().await;

    let receiver = Receiver::start(port, 0, Then::Accept).await;
    let accepted = receiver.accepted().await;
    let notification = verified(&accepted);
    assert_eq!(notification.kind, "workflow.completed");
    assert_eq!(notification.data.workflow_id, workflow_id);
    assert_eq!(
        notification.data.result.as_ref().unwrap()["state"],
        "approved"
    );
    let state = eventually(WAIT, "the delivery to be recorded", || async {
        let state = callbacks_of(&env, &workflow_id, &[]).await;
        (state["callbacks"][0]["status"] == "delivered").then_some(state)
    })
    .await;
    assert_eq!(
        state["callbacks"][0]["webhook_id"],
        json!(webhook_id(&accepted))
    );
    assert!(
        state["callbacks"][0]["attempts"].as_u64() >= Some(3),
        "{state}"
    );
}

#[tokio::test]
async fn callbacks_to_private_loopback_or_link_local_addresses_are_refused_at_start() {
    let env = TestEnv::builder().without_worker().start().await;
    let urls = [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fc00::1]/hook",
        "https://localhost/hook",
        "https://2130706433/hook",
        "http://93.184.215.14/hook",
        "not a url",
    ];
    for url in urls {
        let mut body = shopping_start(&[("APPLE", 1)]);
        body["callbacks"] = json!([{ "url": url }]);
        let response = post(&env, "/v1/workflow-types/shopping/start", Some(&body), &[]).await;
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["pointer"], "/callbacks/0/url", "{url}");
        let detail = problem["errors"][0]["detail"].as_str().unwrap();
        assert!(
            !detail.contains("webhooks."),
            "no configuration internals: {detail}"
        );
    }
    // Nothing was started.
    let page = json(get(&env, "/v1/workflows", &[]).await, StatusCode::OK).await;
    assert_eq!(page["workflows"], json!([]));
}

#[tokio::test]
async fn redirects_are_not_followed_and_a_key_that_may_not_read_the_workflow_cannot_read_its_callbacks()
 {
    const ADMIN: &str = "webhook-admin-key-1";
    const SHOP_READER: &str = "webhook-shop-reader-key-2";
    let env = TestEnv::builder()
        .settings(|s| {
            webhook_settings(s);
            s.webhooks.retry_for = Duration::from_secs(4);
            keys(
                s,
                &[
                    ("admin", ADMIN, &["*:*"]),
                    ("shop-reader", SHOP_READER, &["read:shopping"]),
                ],
            );
        })
        .start()
        .await;
    let admin = bearer(ADMIN);
    let admin = [("authorization", admin.as_str())];
    let reader = bearer(SHOP_READER);
    let reader = [("authorization", reader.as_str())];
    let target = Receiver::start(0, 0, Then::Accept).await;
    let redirecting = Receiver::start(0, 0, Then::RedirectTo(target.addr)).await;
    let mut body = approval_start("ACME");
    body["callbacks"] = json!([{ "url": redirecting.url() }]);
    let started = json(
        post(
            &env,
            "/v1/workflow-types/order-approval/start",
            Some(&body),
            &admin,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let workflow_id = started["workflow_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/workflows/{}/callbacks", segment(&workflow_id));
    let forbidden = problem(get(&env, &path, &reader).await, StatusCode::FORBIDDEN).await;
    assert_eq!(forbidden["code"], "forbidden");
    callbacks_of(&env, &workflow_id, &admin).await;

    let reject = format!("/v1/workflows/{}/signals/reject", segment(&workflow_id));
    let rejected = post(
        &env,
        &reject,
        Some(&json!({"approver": "bob", "reason": "no"})),
        &admin,
    )
    .await;
    assert!(rejected.status().is_success(), "{}", rejected.status());
    let state = eventually(WAIT, "the delivery to be given up", || async {
        let state = callbacks_of(&env, &workflow_id, &admin).await;
        (state["callbacks"][0]["status"] == "failed").then_some(state)
    })
    .await;
    let last_error = state["callbacks"][0]["last_error"].as_str().unwrap();
    assert!(
        last_error.contains("302") && last_error.contains("redirects are not followed"),
        "{last_error}"
    );
    assert!(redirecting.hits().len() >= 2, "retried before giving up");
    assert!(target.hits().is_empty(), "the redirect was followed");
    let metrics = worker_metrics(&env).await;
    assert!(
        metrics.contains("flowgate_webhook_deliveries_total{outcome=\"failed\"} 1"),
        "{metrics}"
    );
}
