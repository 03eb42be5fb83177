//! The guide's success paths: sync start, async start, status, result, and many at once.

use std::time::Duration;

use chrono::DateTime;
use flowgate_testkit::{TestEnv, shopping_body};
use flowgate_workflows::shopping::{Fruit, ShoppingItem, ShoppingList, expected_result};
use reqwest::StatusCode;
use serde_json::json;

use crate::{json, problem};

fn is_generated_id(id: &str) -> bool {
    id.strip_prefix("shopping-workflow-")
        .is_some_and(|uuid| uuid::Uuid::parse_str(uuid).is_ok())
}

#[tokio::test]
async fn a_synchronous_start_returns_the_guides_result() {
    let env = TestEnv::start().await;
    let body = shopping_body(&[("APPLE", 5), ("BANANA", 3)]);
    let out = json(
        env.post_json("/workflows/shopping", &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(out["status"], "completed");
    assert_eq!(out["result"], "Ordered 5 Apples...Ordered 3 Bananas...");
    assert!(
        is_generated_id(out["workflow_id"].as_str().unwrap()),
        "{out}"
    );
    assert_eq!(
        out.as_object().unwrap().len(),
        3,
        "exactly the guide's keys: {out}"
    );
}

#[tokio::test]
async fn an_asynchronous_start_can_be_followed_to_its_result_and_status() {
    let env = TestEnv::start().await;
    let response = env
        .post_json(
            "/workflows/shopping/async",
            &shopping_body(&[("ORANGE", 10)]),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let started = json(response, StatusCode::OK).await;
    assert_eq!(started["status"], "started");
    assert_eq!(started["result"], serde_json::Value::Null);
    let id = started["workflow_id"].as_str().unwrap().to_owned();
    assert!(is_generated_id(&id), "{started}");
    assert_eq!(location, format!("/workflows/{id}/result"));

    let result = json(
        env.get(&format!("/workflows/{id}/result")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        result,
        json!({"workflow_id": id, "status": "completed", "result": "Ordered 10 Oranges..."})
    );

    let status = json(
        env.get(&format!("/workflows/{id}/status")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["workflow_id"], id.as_str());
    assert_eq!(status["status"], "COMPLETED");
    let start = status["start_time"].as_str().unwrap();
    let close = status["close_time"].as_str().unwrap();
    assert!(
        start.ends_with("+00:00") && close.ends_with("+00:00"),
        "{status}"
    );
    let (start, close) = (
        DateTime::parse_from_rfc3339(start).unwrap(),
        DateTime::parse_from_rfc3339(close).unwrap(),
    );
    assert!(start <= close, "{status}");
}

#[tokio::test]
async fn a_running_workflow_has_no_close_time_and_its_result_waits_then_answers_202() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| s.api.result_wait = Duration::from_millis(700))
        .start()
        .await;
    let started = json(
        env.post_json(
            "/workflows/shopping/async",
            &shopping_body(&[("CHERRY", 2)]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let id = started["workflow_id"].as_str().unwrap();

    let status = json(
        env.get(&format!("/workflows/{id}/status")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["status"], "RUNNING");
    assert_eq!(status["close_time"], serde_json::Value::Null);
    DateTime::parse_from_rfc3339(status["start_time"].as_str().unwrap()).unwrap();

    let begun = std::time::Instant::now();
    let response = env.get(&format!("/workflows/{id}/result")).await;
    let waited = begun.elapsed();
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("/workflows/{id}/result")
    );
    let body = json(response, StatusCode::ACCEPTED).await;
    assert_eq!(
        body,
        json!({"workflow_id": id, "status": "running", "result": null})
    );
    assert!(
        waited >= Duration::from_millis(600),
        "waited for the deadline first: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "bounded by api.result_wait: {waited:?}"
    );

    let begun = std::time::Instant::now();
    let peek = env.get(&format!("/workflows/{id}/result?wait=0")).await;
    assert_eq!(peek.status(), StatusCode::ACCEPTED);
    assert!(
        begun.elapsed() < Duration::from_millis(500),
        "a zero wait peeks"
    );
}

#[tokio::test]
async fn a_synchronous_start_answers_202_when_the_workflow_outlives_the_wait() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| s.api.result_wait = Duration::from_millis(500))
        .start()
        .await;
    let response = env
        .post_json("/workflows/shopping", &shopping_body(&[("APPLE", 1)]))
        .await;
    assert!(response.headers().contains_key("location"));
    let body = json(response, StatusCode::ACCEPTED).await;
    assert_eq!(body["status"], "running");
    assert_eq!(body["result"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_chosen_workflow_id_is_used_once_and_a_second_start_is_a_409() {
    let env = TestEnv::start().await;
    let mut body = shopping_body(&[("BANANA", 2)]);
    body["workflow_id"] = json!("order 42/β%");
    let first = json(
        env.post_json("/workflows/shopping", &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["workflow_id"], "order 42/β%");
    assert_eq!(first["result"], "Ordered 2 Bananas...");

    let again = problem(
        env.post_json("/workflows/shopping/async", &body).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(again["code"], "workflow-already-exists");

    // The id round-trips through the path when percent-encoded.
    let status = json(
        env.get("/workflows/order%2042%2F%CE%B2%25/status").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["workflow_id"], "order 42/β%");
    assert_eq!(status["status"], "COMPLETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_async_starts_each_get_their_own_result() {
    // This test is about every start reaching its own workflow, not about the time budget: on a
    // loaded 2-core machine, 200 starts at once can queue for longer than the default 5 s bound
    // (which then, correctly, answers 503 — covered by the outage tests).
    let env = TestEnv::builder()
        .settings(|s| s.temporal.rpc_timeout = Duration::from_secs(30))
        .start()
        .await;
    let lists: Vec<ShoppingList> = (0..200u32)
        .map(|i| ShoppingList {
            items: (0..=i % 3)
                .map(|j| ShoppingItem {
                    fruit: Fruit::ALL[((i + j) % 4) as usize],
                    amount: i * 10 + j + 1,
                })
                .collect(),
        })
        .collect();
    let starts = lists.iter().map(|list| {
        let env = &env;
        async move {
            let response = env
                .post_json(
                    "/workflows/shopping/async",
                    &serde_json::to_value(list).unwrap(),
                )
                .await;
            let body = json(response, StatusCode::OK).await;
            body["workflow_id"].as_str().unwrap().to_owned()
        }
    });
    let ids = futures::future::join_all(starts).await;
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 200, "every start got its own workflow");

    let results = ids.iter().map(|id| {
        let env = &env;
        async move {
            json(
                env.get(&format!("/workflows/{id}/result")).await,
                StatusCode::OK,
            )
            .await
        }
    });
    let results = futures::future::join_all(results).await;
    for ((list, id), result) in lists.iter().zip(&ids).zip(results) {
        assert_eq!(result["workflow_id"], id.as_str());
        assert_eq!(result["status"], "completed", "{result}");
        assert_eq!(result["result"], expected_result(list), "{id}");
    }
}
