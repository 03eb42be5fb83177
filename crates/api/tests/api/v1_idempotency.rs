//! `Idempotency-Key` on starts: one key, one run — while it runs, after it ended, under
//! concurrent retries — and a 422 for the same key with another body.

use flowgate_testkit::{TestEnv, eventually};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

use crate::{
    json, problem,
    v1_support::{header, post, shopping_start},
};

/// How many runs visibility knows for `workflow_id` (polled until at least one shows).
async fn runs_of(env: &TestEnv, workflow_id: &str) -> usize {
    let query = format!("/v1/workflows?query=WorkflowId%3D%27{workflow_id}%27");
    eventually(Duration::from_secs(10), "the run to be listed", || async {
        let page = json(env.get(&query).await, StatusCode::OK).await;
        let runs = page["workflows"].as_array().unwrap().len();
        (runs > 0).then_some(runs)
    })
    .await
}

#[tokio::test]
async fn a_retried_start_returns_the_same_running_run_and_says_it_was_replayed() {
    let env = TestEnv::builder().without_worker().start().await;
    let body = shopping_start(&[("APPLE", 5)]);
    let key = [("idempotency-key", "order-7f3a")];

    let first = post(&env, "/v1/workflows/shopping", Some(&body), &key).await;
    assert_eq!(header(&first, "idempotent-replayed"), "false");
    let location = header(&first, "location");
    let first = json(first, StatusCode::ACCEPTED).await;
    assert_eq!(first["replayed"], false);

    let retry = post(&env, "/v1/workflows/shopping", Some(&body), &key).await;
    assert_eq!(header(&retry, "idempotent-replayed"), "true");
    assert_eq!(header(&retry, "location"), location);
    let retry = json(retry, StatusCode::ACCEPTED).await;
    assert_eq!(retry["replayed"], true);
    assert_eq!(retry["workflow_id"], first["workflow_id"]);
    assert_eq!(retry["run_id"], first["run_id"]);

    let id = first["workflow_id"].as_str().unwrap();
    assert!(
        id.starts_with("shopping-workflow-"),
        "the key maps to an id: {id}"
    );
    assert_eq!(location, format!("/v1/workflows/{id}/result"));
    let described = json(
        env.get(&format!("/v1/workflows/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(described["run_id"], first["run_id"], "no later run");
    assert_eq!(described["memo"], json!({}), "the record stays internal");
    assert_eq!(runs_of(&env, id).await, 1);
}

#[tokio::test]
async fn a_retry_after_the_run_completed_returns_it_with_its_result_not_a_new_run() {
    let env = TestEnv::start().await;
    let body = shopping_start(&[("BANANA", 3)]);
    let key = [("idempotency-key", "completed-once")];
    let first = json(
        post(&env, "/v1/workflows/shopping?wait=10", Some(&body), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["result"], "Ordered 3 Bananas...");

    // Without a wait, a replay still reports how the run ended.
    let retry = post(&env, "/v1/workflows/shopping", Some(&body), &key).await;
    assert_eq!(header(&retry, "idempotent-replayed"), "true");
    let retry = json(retry, StatusCode::OK).await;
    assert_eq!(retry["run_id"], first["run_id"]);
    assert_eq!(retry["status"], "completed");
    assert_eq!(retry["result"], "Ordered 3 Bananas...");
    assert_eq!(retry["replayed"], true);
    let id = first["workflow_id"].as_str().unwrap();
    assert_eq!(runs_of(&env, id).await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_422_running_or_ended() {
    let env = TestEnv::start().await;
    let key = [("idempotency-key", "reused-key")];
    let first = json(
        post(
            &env,
            "/v1/workflows/shopping?wait=10",
            Some(&shopping_start(&[("APPLE", 1)])),
            &key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let other = shopping_start(&[("APPLE", 2)]);
    let out = problem(
        post(&env, "/v1/workflows/shopping", Some(&other), &key).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(out["code"], "idempotency-key-reused");
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .contains(first["workflow_id"].as_str().unwrap()),
        "{out}"
    );

    // The same holds while the first run is still running.
    let env = TestEnv::builder().without_worker().start().await;
    let mut body = shopping_start(&[("APPLE", 1)]);
    json(
        post(&env, "/v1/workflows/shopping", Some(&body), &key).await,
        StatusCode::ACCEPTED,
    )
    .await;
    body["memo"] = json!({"changed": true});
    let out = problem(
        post(&env, "/v1/workflows/shopping", Some(&body), &key).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(out["code"], "idempotency-key-reused");
}

#[tokio::test]
async fn concurrent_retries_share_one_run_and_exactly_one_created_it() {
    let env = TestEnv::builder().without_worker().start().await;
    let body = shopping_start(&[("CHERRY", 4)]);
    let key = [("idempotency-key", "burst-1")];
    let responses =
        join_all((0..6).map(|_| post(&env, "/v1/workflows/shopping", Some(&body), &key))).await;
    let mut outs = Vec::new();
    for response in responses {
        outs.push(json(response, StatusCode::ACCEPTED).await);
    }
    let run_ids: std::collections::BTreeSet<_> =
        outs.iter().map(|o| o["run_id"].to_string()).collect();
    assert_eq!(run_ids.len(), 1, "{outs:?}");
    let created = outs.iter().filter(|o| o["replayed"] == false).count();
    assert_eq!(created, 1, "{outs:?}");
    assert_eq!(
        runs_of(&env, outs[0]["workflow_id"].as_str().unwrap()).await,
        1
    );
}

#[tokio::test]
async fn keys_are_checked_and_rule_out_other_policies() {
    let env = TestEnv::builder().without_worker().start().await;
    let body = shopping_start(&[("APPLE", 1)]);
    let out = problem(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&body),
            &[("idempotency-key", " ")],
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(out["code"], "invalid-header");
    let long = "k".repeat(256);
    problem(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&body),
            &[("idempotency-key", &long)],
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    let mut body = body;
    body["id_conflict_policy"] = json!("terminate_existing");
    body["id_reuse_policy"] = json!("allow_duplicate");
    let out = problem(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&body),
            &[("idempotency-key", "k")],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let pointers: Vec<_> = out["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        ["/id_reuse_policy", "/id_conflict_policy"],
        "{out}"
    );
}

#[tokio::test]
async fn the_same_key_for_another_workflow_is_another_run() {
    let env = TestEnv::builder().without_worker().start().await;
    let key = [("idempotency-key", "shared-key")];
    let shopping = json(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&shopping_start(&[("APPLE", 1)])),
            &key,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let approval = json(
        post(
            &env,
            "/v1/workflows/order-approval",
            Some(&crate::v1_support::approval_start("ACME")),
            &key,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_ne!(shopping["workflow_id"], approval["workflow_id"]);
    assert_eq!(approval["replayed"], false);
}
