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
    let response = post(env, "/v1/workflows/order-approval", Some(&body), &[]).await;
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
