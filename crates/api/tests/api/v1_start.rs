//! `POST /v1/workflows/{name}`: registered workflows, validation, waits and start options.

use std::time::{Duration, Instant};

use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    json, problem,
    v1_support::{approval_start, header, post, shopping_start},
};

#[tokio::test]
async fn a_start_with_a_wait_answers_200_with_the_result() {
    let env = TestEnv::start().await;
    let body = shopping_start(&[("APPLE", 5), ("BANANA", 3)]);
    let response = post(&env, "/v1/workflows/shopping?wait=10s", Some(&body), &[]).await;
    assert_eq!(header(&response, "idempotent-replayed"), "");
    let out = json(response, StatusCode::OK).await;
    assert_eq!(out["status"], "completed", "{out}");
    assert_eq!(out["result"], "Ordered 5 Apples...Ordered 3 Bananas...");
    assert_eq!(out["replayed"], false);
    assert!(!out["run_id"].as_str().unwrap().is_empty(), "{out}");
    let id = out["workflow_id"].as_str().unwrap();
    let uuid = id
        .strip_prefix("shopping-workflow-")
        .expect("the registry's prefix");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{id}");
}

#[tokio::test]
async fn starts_have_their_own_path_and_the_earlier_one_is_an_alias() {
    let env = TestEnv::builder().without_worker().start().await;
    let body = shopping_start(&[("APPLE", 1)]);
    for path in [
        "/v1/workflow-types/shopping/start",
        "/v1/workflow-types/ShoppingWorkflow/start",
        "/v1/workflows/shopping",
    ] {
        let out = json(
            post(&env, path, Some(&body), &[]).await,
            StatusCode::ACCEPTED,
        )
        .await;
        assert_eq!(out["status"], "running", "{path}: {out}");
    }
    let unknown = problem(
        post(&env, "/v1/workflow-types/nope/start", Some(&body), &[]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(unknown["code"], "workflow-type-not-found", "{unknown}");
    // Starting is not an action on a workflow id.
    let response = env
        .http
        .put(env.url("/v1/workflow-types/shopping/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, "allow"), "POST");
}

#[tokio::test]
async fn a_workflow_starts_by_its_temporal_type_as_by_its_name() {
    let env = TestEnv::start().await;
    let body = shopping_start(&[("CHERRY", 2)]);
    let key = [("idempotency-key", "by-type")];
    let by_type = json(
        post(
            &env,
            "/v1/workflows/ShoppingWorkflow?wait=10s",
            Some(&body),
            &key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_type["result"], "Ordered 2 Cherries...", "{by_type}");
    assert!(
        by_type["workflow_id"]
            .as_str()
            .unwrap()
            .starts_with("shopping-workflow-"),
        "{by_type}"
    );
    // The same workflow: the same key under its name is a replay of that run.
    let by_name = json(
        post(&env, "/v1/workflows/shopping", Some(&body), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_name["run_id"], by_type["run_id"]);
    assert_eq!(by_name["replayed"], true);
}

#[tokio::test]
async fn a_start_without_a_wait_answers_202_with_the_location_of_its_result() {
    let env = TestEnv::builder().without_worker().start().await;
    let body = shopping_start(&[("CHERRY", 1)]);
    let response = post(&env, "/v1/workflows/shopping", Some(&body), &[]).await;
    let location = header(&response, "location");
    let out = json(response, StatusCode::ACCEPTED).await;
    assert_eq!(out["status"], "running", "{out}");
    assert_eq!(out["result"], serde_json::Value::Null);
    let id = out["workflow_id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/workflows/{id}/result"));
    let result = json(env.get(&location).await, StatusCode::ACCEPTED).await;
    assert_eq!(result["status"], "running", "{result}");

    let described = json(
        env.get(&format!("/v1/workflows/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(described["workflow_id"], id);
    assert_eq!(described["run_id"], out["run_id"]);
    assert_eq!(described["workflow_type"], "ShoppingWorkflow");
    assert_eq!(described["task_queue"], "shopping-tasks");
    assert_eq!(described["status"], "running");
}

#[tokio::test]
async fn prefer_wait_is_honoured_capped_and_acknowledged() {
    let env = TestEnv::start().await;
    let body = shopping_start(&[("ORANGE", 2)]);
    let response = post(
        &env,
        "/v1/workflows/shopping",
        Some(&body),
        &[("prefer", "wait=10")],
    )
    .await;
    assert_eq!(header(&response, "preference-applied"), "wait=10");
    let out = json(response, StatusCode::OK).await;
    assert_eq!(out["result"], "Ordered 2 Oranges...");

    // Without a worker the workflow never ends: the wait stops at api.result_wait (20 s in
    // tests), and says so.
    let env = TestEnv::builder()
        .settings(|s| s.api.result_wait = Duration::from_secs(1))
        .without_worker()
        .start()
        .await;
    let began = Instant::now();
    let response = post(
        &env,
        "/v1/workflows/shopping",
        Some(&body),
        &[("prefer", "respond-async, wait=600")],
    )
    .await;
    assert_eq!(header(&response, "preference-applied"), "wait=1");
    assert!(!header(&response, "location").is_empty());
    json(response, StatusCode::ACCEPTED).await;
    let response = post(&env, "/v1/workflows/shopping?wait=1h", Some(&body), &[]).await;
    assert_eq!(
        header(&response, "preference-applied"),
        "",
        "?wait is no preference"
    );
    json(response, StatusCode::ACCEPTED).await;
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn an_invalid_input_is_a_422_with_pointers_into_input() {
    let env = TestEnv::start().await;
    let body = json!({"input": {"items": [{"fruit": "KIWI", "amount": 1}]}});
    let out = problem(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(out["code"], "validation-failed");
    assert_eq!(out["errors"][0]["pointer"], "/input/items/0/fruit", "{out}");

    let body = json!({"input": {"customer": " ", "items": [], "approval_timeout": "soon"}});
    let out = problem(
        post(&env, "/v1/workflows/order-approval", Some(&body), &[]).await,
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
        ["/input/customer", "/input/items", "/input/approval_timeout"],
        "{out}"
    );

    let missing = problem(
        post(&env, "/v1/workflows/shopping", Some(&json!({})), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(missing["errors"][0]["pointer"], "/input", "{missing}");
    // The guide's body is not a /v1 body: the unknown field is named, with the known ones.
    let guide_body = json!({"items": [{"fruit": "APPLE", "amount": 1}], "input": {}});
    let unknown = problem(
        post(&env, "/v1/workflows/shopping", Some(&guide_body), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(unknown["errors"][0]["pointer"], "/items", "{unknown}");
    let detail = unknown["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("is not a known field (known: input, workflow_id"),
        "{unknown}"
    );
    // So is a misspelt field inside the input, at its own pointer.
    let misspelt = json!({"input": {"items": [{"fruit": "APPLE", "amont": 1}]}});
    let unknown = problem(
        post(&env, "/v1/workflows/shopping", Some(&misspelt), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        unknown["errors"][0]["pointer"], "/input/items/0/amount",
        "{unknown}"
    );
    assert_eq!(unknown["errors"][0]["detail"], "is required", "{unknown}");
    let options = json!({"input": {"items": [{"fruit": "APPLE", "amount": 1}]}, "start_delay": "later", "memo": {"_flowgate_idempotency": 1}, "search_attributes": {"Nested": {"a": 1}}});
    let out = problem(
        post(&env, "/v1/workflows/shopping", Some(&options), &[]).await,
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
        [
            "/memo/_flowgate_idempotency",
            "/search_attributes/Nested",
            "/start_delay"
        ],
        "{out}"
    );
}

#[tokio::test]
async fn an_unknown_workflow_name_is_a_404_naming_the_registered_ones() {
    let env = TestEnv::start().await;
    let response = post(
        &env,
        "/v1/workflows/no-such-flow",
        Some(&shopping_start(&[("APPLE", 1)])),
        &[],
    )
    .await;
    let out = problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(out["code"], "workflow-type-not-found");
    let detail = out["detail"].as_str().unwrap();
    assert!(
        detail.contains("shopping") && detail.contains("order-approval"),
        "{detail}"
    );
}

#[tokio::test]
async fn an_order_approval_starts_and_waits_for_a_decision() {
    let env = TestEnv::start().await;
    let body = approval_start("ACME Corp");
    let response = post(
        &env,
        "/v1/workflows/order-approval?wait=500ms",
        Some(&body),
        &[],
    )
    .await;
    let out = json(response, StatusCode::ACCEPTED).await;
    assert_eq!(out["status"], "running", "{out}");
    assert!(
        out["workflow_id"]
            .as_str()
            .unwrap()
            .starts_with("order-approval-"),
        "{out}"
    );
}
