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
    assert!(
        update["detail"]
            .as_str()
            .unwrap()
            .contains("same Idempotency-Key"),
        "{update}"
    );
}
