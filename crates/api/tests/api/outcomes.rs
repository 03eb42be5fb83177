//! Workflows that end without a result: 200 with their status and an error, never a 500.

use std::time::Duration;

use flowgate_testkit::{TestEnv, eventually, shopping_body, temporal};
use reqwest::StatusCode;
use serde_json::json;

use crate::json;

#[tokio::test]
async fn a_failed_workflow_reports_failed_with_its_error() {
    let env = TestEnv::start().await;
    // Another client, bypassing the API's validation, sends an amount the activity rejects.
    let client = env.temporal_client().await;
    let input = json!({"items": [{"fruit": "APPLE", "amount": 0}]});
    temporal::start_raw(
        &client,
        "ShoppingWorkflow",
        "shopping-tasks",
        "bad-order-1",
        &input,
    )
    .await;

    let result = json(
        env.get("/workflows/bad-order-1/result").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(result["result"], serde_json::Value::Null);
    assert_eq!(result["error"]["type"], "InvalidShoppingList", "{result}");
    assert!(
        result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amount must be a positive integer, got 0"),
        "{result}"
    );

    let status = json(
        env.get("/workflows/bad-order-1/status").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["status"], "FAILED");
    assert!(status["close_time"].is_string());
}

#[tokio::test]
async fn a_malformed_input_fails_the_workflow_instead_of_hanging_it() {
    let env = TestEnv::start().await;
    let client = env.temporal_client().await;
    temporal::start_raw(
        &client,
        "ShoppingWorkflow",
        "shopping-tasks",
        "bad-order-2",
        &json!({"items": [{"fruit": "GRAPE", "amount": 1}]}),
    )
    .await;
    let result = json(
        env.get("/workflows/bad-order-2/result").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(result["error"]["type"], "InvalidShoppingList", "{result}");
}

#[tokio::test]
async fn a_terminated_workflow_reports_terminated() {
    let env = TestEnv::builder().without_worker().start().await;
    let started = json(
        env.post_json("/workflows/shopping/async", &shopping_body(&[("APPLE", 1)]))
            .await,
        StatusCode::OK,
    )
    .await;
    let id = started["workflow_id"].as_str().unwrap();
    temporal::terminate(&env.temporal_client().await, id, "operator said so").await;

    let result = json(
        env.get(&format!("/workflows/{id}/result")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "terminated", "{result}");
    assert_eq!(result["error"]["type"], "TerminatedFailure");
    let status = json(
        env.get(&format!("/workflows/{id}/status")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["status"], "TERMINATED");
}

#[tokio::test]
async fn a_canceled_workflow_reports_canceled() {
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = Duration::from_secs(30))
        .start()
        .await;
    let started = json(
        env.post_json("/workflows/shopping/async", &shopping_body(&[("APPLE", 1)]))
            .await,
        StatusCode::OK,
    )
    .await;
    let id = started["workflow_id"].as_str().unwrap().to_owned();
    let client = env.temporal_client().await;
    eventually(
        Duration::from_secs(10),
        "the order activity to start",
        || async { (temporal::started_activities(&client, &id).await > 0).then_some(()) },
    )
    .await;
    temporal::cancel(&client, &id).await;

    let result = json(
        env.get(&format!("/workflows/{id}/result")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "canceled", "{result}");
    assert_eq!(result["error"]["type"], "CanceledFailure");
    let status = json(
        env.get(&format!("/workflows/{id}/status")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["status"], "CANCELED");
}

#[tokio::test]
async fn a_synchronous_start_reports_a_workflow_terminated_while_it_waits() {
    let env = TestEnv::builder().without_worker().start().await;
    let mut body = shopping_body(&[("APPLE", 1)]);
    body["workflow_id"] = json!("sync-then-terminated");
    let waiting = env.post_json("/workflows/shopping", &body);
    let terminate = async {
        let client = env.temporal_client().await;
        eventually(Duration::from_secs(10), "the workflow to exist", || async {
            let status = env
                .get("/workflows/sync-then-terminated/status")
                .await
                .status();
            (status == StatusCode::OK).then_some(())
        })
        .await;
        temporal::terminate(&client, "sync-then-terminated", "stop").await;
    };
    let (response, ()) = tokio::join!(waiting, terminate);
    let result = json(response, StatusCode::OK).await;
    assert_eq!(result["status"], "terminated", "{result}");
    assert_eq!(result["error"]["type"], "TerminatedFailure");
}
