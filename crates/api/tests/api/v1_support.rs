//! What the `/v1` tests share: request bodies, requests with headers, percent-encoding.

use flowgate_testkit::{TestEnv, shopping_body};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Response;
use serde_json::{Value, json};
use temporalio_client::{UntypedWorkflow, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// `{"input": <shopping list>}`.
pub(crate) fn shopping_start(items: &[(&str, i64)]) -> Value {
    json!({ "input": shopping_body(items) })
}

/// `{"input": <approval request>}` for `customer`, pending for an hour.
pub(crate) fn approval_start(customer: &str) -> Value {
    json!({ "input": {
        "customer": customer,
        "items": [{"fruit": "APPLE", "amount": 2}, {"fruit": "CHERRY", "amount": 1}],
        "approval_timeout": "1h",
    }})
}

/// `POST path` with an optional JSON body and extra headers.
pub(crate) async fn post(
    env: &TestEnv,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Response {
    let mut request = env.http.post(env.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("POST reaches the API")
}

/// `GET path` with extra headers.
pub(crate) async fn get(env: &TestEnv, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = env.http.get(env.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("GET reaches the API")
}

/// A workflow id as one path segment, every reserved character percent-encoded.
pub(crate) fn segment(workflow_id: &str) -> String {
    utf8_percent_encode(workflow_id, NON_ALPHANUMERIC).to_string()
}

/// A response header as text (empty when absent).
pub(crate) fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_owned())
        .unwrap_or_default()
}

/// Starts an order-approval workflow (pending for an hour) and returns its id.
pub(crate) async fn start_pending_order(env: &TestEnv, workflow_id: &str) -> String {
    let mut body = approval_start("ACME Corp");
    body["workflow_id"] = json!(workflow_id);
    let response = post(
        env,
        "/v1/workflow-types/order-approval/start",
        Some(&body),
        &[],
    )
    .await;
    let out = crate::json(response, reqwest::StatusCode::ACCEPTED).await;
    assert_eq!(out["status"], "running", "{out}");
    out["workflow_id"].as_str().unwrap().to_owned()
}

/// Every event's attributes in `workflow_id`'s history.
pub(crate) async fn history(env: &TestEnv, workflow_id: &str) -> Vec<Attributes> {
    let client = env.temporal_client().await;
    let events = client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .expect("history");
    events.into_iter().filter_map(|e| e.attributes).collect()
}

/// The order's `status` query answer.
pub(crate) async fn status_of(env: &TestEnv, id: &str) -> Value {
    let path = format!("/v1/workflows/{id}/queries/status");
    crate::json(post(env, &path, None, &[]).await, reqwest::StatusCode::OK).await["result"].clone()
}

/// `count` shopping starts that wait `wait` (no worker: they keep waiting), sent with
/// `headers`; returns once the API counts them in flight.
pub(crate) async fn waits_in_flight(
    env: &TestEnv,
    count: usize,
    wait: &str,
    headers: &[(&str, &str)],
) -> Vec<tokio::task::JoinHandle<Response>> {
    let waits = (0..count)
        .map(|_| {
            let mut request = env
                .http
                .post(env.url(&format!("/v1/workflows/shopping?wait={wait}")))
                .json(&shopping_start(&[("APPLE", 1)]));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            tokio::spawn(async move { request.send().await.expect("POST reaches the API") })
        })
        .collect();
    flowgate_testkit::eventually(
        std::time::Duration::from_secs(10),
        "the waits in flight",
        || async {
            let scrape =
                flowgate_testkit::metrics::scrape(&env.http, &env.api_admin_url("/metrics")).await;
            let in_flight = scrape.sum(
                "http_server_active_requests",
                &[("http_request_method", "POST")],
            );
            (in_flight >= count as f64).then_some(())
        },
    )
    .await;
    waits
}
