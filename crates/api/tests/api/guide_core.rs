//! The guide's routes sit on the `/v1` core: they honour what the core does (idempotency keys,
//! waits, the deployment's limits), and `/v1` enforces what the guide's routes enforce.

use flowgate_testkit::{TestEnv, shopping_body};
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    json, problem,
    v1_support::{header, post, shopping_start},
};

#[tokio::test]
async fn a_retried_guide_start_with_an_idempotency_key_orders_once() {
    let env = TestEnv::builder().without_worker().start().await;
    let body = shopping_body(&[("APPLE", 2)]);
    let key = [("idempotency-key", "order-7")];
    let first = post(&env, "/workflows/shopping/async", Some(&body), &key).await;
    assert_eq!(header(&first, "idempotent-replayed"), "false");
    let first = json(first, StatusCode::OK).await;
    let retry = post(&env, "/workflows/shopping/async", Some(&body), &key).await;
    assert_eq!(header(&retry, "idempotent-replayed"), "true");
    let retry = json(retry, StatusCode::OK).await;
    assert_eq!(
        retry["workflow_id"], first["workflow_id"],
        "one order: {retry}"
    );
    assert_eq!(
        retry,
        json!({"workflow_id": first["workflow_id"], "status": "started", "result": null})
    );

    let other = shopping_body(&[("APPLE", 3)]);
    let misuse = problem(
        post(&env, "/workflows/shopping/async", Some(&other), &key).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(misuse["code"], "idempotency-key-reused", "{misuse}");
}

#[tokio::test]
async fn a_keyed_sync_retry_answers_with_the_first_orders_result() {
    let env = TestEnv::start().await;
    let body = shopping_body(&[("CHERRY", 4)]);
    let key = [("idempotency-key", "sync-1")];
    let first = json(
        post(&env, "/workflows/shopping", Some(&body), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["result"], "Ordered 4 Cherries...");
    let retry = post(&env, "/workflows/shopping", Some(&body), &key).await;
    assert_eq!(header(&retry, "idempotent-replayed"), "true");
    let retry = json(retry, StatusCode::OK).await;
    assert_eq!(retry, first, "the same answer, byte for byte the guide's");
}

#[tokio::test]
async fn the_sync_start_takes_a_wait() {
    let env = TestEnv::builder().without_worker().start().await;
    let body = shopping_body(&[("BANANA", 1)]);
    let response = post(&env, "/workflows/shopping?wait=0", Some(&body), &[]).await;
    let location = header(&response, "location");
    let out = json(response, StatusCode::ACCEPTED).await;
    assert_eq!(out["status"], "running");
    let id = out["workflow_id"].as_str().unwrap();
    assert_eq!(location, format!("/workflows/{id}/result"));

    let response = post(
        &env,
        "/workflows/shopping",
        Some(&body),
        &[("prefer", "wait=0")],
    )
    .await;
    assert_eq!(header(&response, "preference-applied"), "wait=0");
    json(response, StatusCode::ACCEPTED).await;

    let bad = problem(
        post(&env, "/workflows/shopping?wait=soon", Some(&body), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["code"], "invalid-query", "{bad}");
}

#[tokio::test]
async fn v1_enforces_the_configured_limits_like_the_guides_routes() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            s.shopping.max_items = 2;
            s.shopping.max_amount = 7;
        })
        .start()
        .await;
    let body = shopping_start(&[("APPLE", 1), ("APPLE", 8), ("APPLE", 1)]);
    let refused = problem(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let pointers: Vec<_> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        ["/input/items", "/input/items/1/amount"],
        "{refused}"
    );
    let approval = json!({"input": {
        "customer": "ada",
        "items": [{"fruit": "APPLE", "amount": 8}],
    }});
    let refused = problem(
        post(&env, "/v1/workflows/order-approval", Some(&approval), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        refused["errors"][0]["pointer"], "/input/items/0/amount",
        "{refused}"
    );
}

#[tokio::test]
async fn every_wrong_value_is_reported_at_once_on_every_route() {
    let env = TestEnv::builder().without_worker().start().await;
    let items = json!([
        {"fruit": "GRAPE", "amount": 1},
        {"fruit": "APPLE", "amount": "five"},
        {"fruit": "BANANA"},
    ]);
    for (path, body, prefix) in [
        ("/workflows/shopping", json!({"items": items}), ""),
        (
            "/v1/workflow-types/shopping/start",
            json!({"input": {"items": items}}),
            "/input",
        ),
    ] {
        let refused = problem(
            post(&env, path, Some(&body), &[]).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let found: Vec<(String, String)> = refused["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["pointer"].as_str().unwrap().to_owned(),
                    e["detail"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected = [
            (
                "/items/0/fruit",
                "must be one of APPLE, BANANA, CHERRY, ORANGE, got \"GRAPE\"",
            ),
            (
                "/items/1/amount",
                "must be a whole number, got the string \"five\"",
            ),
            ("/items/2/amount", "is required"),
        ]
        .map(|(pointer, detail)| (format!("{prefix}{pointer}"), detail.to_owned()));
        assert_eq!(found, expected, "{path}: {refused}");
    }
}
