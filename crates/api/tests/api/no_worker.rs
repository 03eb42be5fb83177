//! Messages to a workflow that no worker serves say so: not "Temporal is unavailable".

use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    json, problem,
    v1_support::{post, start_pending_order},
};

#[tokio::test]
async fn a_query_or_update_to_a_workflow_no_worker_serves_is_a_no_worker_problem() {
    let mut env = TestEnv::builder().without_worker().start().await;
    let id = start_pending_order(&env, "no-worker-order").await;
    let query = problem(
        post(
            &env,
            &format!("/v1/workflows/{id}/queries/status"),
            None,
            &[],
        )
        .await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(query["code"], "no-worker", "{query}");
    let detail = query["detail"].as_str().unwrap();
    assert!(
        detail.contains("shopping-tasks"),
        "names the task queue: {detail}"
    );
    let update = problem(
        post(
            &env,
            &format!("/v1/workflows/{id}/updates/add_note?wait=2"),
            Some(&json!({"text": "hello"})),
            &[("idempotency-key", "note-1")],
        )
        .await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(update["code"], "no-worker", "{update}");
    let detail = update["detail"].as_str().unwrap();
    assert!(detail.contains("same Idempotency-Key"), "{update}");
    // The answer says where the update's result will be: once a worker runs, it is there.
    let path = detail
        .split("GET ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("the result's path")
        .to_owned();
    assert!(
        path.starts_with(&format!("/v1/workflows/{id}/updates/add_note/")),
        "{detail}"
    );
    env.start_worker().await;
    let fetched = json(env.get(&format!("{path}?wait=10")).await, StatusCode::OK).await;
    assert_eq!(fetched["action"], "updated", "{fetched}");
    assert_eq!(fetched["result"], 1, "the note was added once: {fetched}");
    let again = json(
        post(
            &env,
            &format!("/v1/workflows/{id}/updates/add_note"),
            Some(&json!({"text": "hello"})),
            &[("idempotency-key", "note-1")],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["update_id"], fetched["update_id"], "{again}");
    assert_eq!(again["result"], 1, "a retry finds the same update: {again}");

    let unknown = problem(
        env.get(&format!(
            "/v1/workflows/{id}/updates/add_note/no-such-update"
        ))
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(unknown["code"], "update-not-found", "{unknown}");
}
