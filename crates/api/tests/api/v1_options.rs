//! Start options: memo, start delay, search attributes, id reuse and conflict policies.

use chrono::DateTime;
use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    json, problem,
    v1_support::{post, shopping_start},
};

/// Starts `body`; the workflow as described, and its delay in seconds.
async fn start_delayed(env: &TestEnv, body: &Value) -> (Value, i64) {
    let out = json(
        post(env, "/v1/workflows/shopping", Some(body), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = out["workflow_id"].as_str().unwrap();
    let described = json(
        env.get(&format!("/v1/workflows/{id}")).await,
        StatusCode::OK,
    )
    .await;
    let time =
        |field: &str| DateTime::parse_from_rfc3339(described[field].as_str().unwrap()).unwrap();
    let delay = (time("execution_time") - time("start_time")).num_seconds();
    (described, delay)
}

#[tokio::test]
async fn memo_and_start_delay_reach_temporal() {
    let env = TestEnv::start().await;
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["memo"] = json!({"team": "fruit", "priority": 2, "tags": ["a", "b"]});
    body["start_delay"] = json!("1h");
    let (described, delay) = start_delayed(&env, &body).await;
    assert_eq!(
        described["memo"],
        json!({"team": "fruit", "priority": 2, "tags": ["a", "b"]})
    );
    assert_eq!(described["status"], "running", "delayed, so not run yet");
    assert!((delay - 3600).abs() <= 1, "{described}");

    // A number is seconds, as the documentation says; anything else is a clear 422.
    body["start_delay"] = json!(90);
    let (described, delay) = start_delayed(&env, &body).await;
    assert!((delay - 90).abs() <= 1, "{described}");
    body["start_delay"] = json!(true);
    let refused = crate::problem(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["errors"][0]["pointer"], "/start_delay", "{refused}");
    assert!(
        refused["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("number of seconds"),
        "{refused}"
    );
}

#[tokio::test]
async fn an_undefined_search_attribute_is_a_clear_422() {
    let env = TestEnv::start().await;
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["search_attributes"] = json!({"FlowgateNoSuchAttribute": "x"});
    let out = problem(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(out["errors"][0]["pointer"], "/search_attributes", "{out}");
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .contains("FlowgateNoSuchAttribute"),
        "{out}"
    );
}

#[tokio::test]
async fn id_conflict_and_reuse_policies_are_temporals() {
    let env = TestEnv::builder().without_worker().start().await;
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["workflow_id"] = json!("policy-order");
    let first = json(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;

    let conflict = problem(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(conflict["code"], "workflow-already-exists");

    body["id_conflict_policy"] = json!("use_existing");
    let existing = json(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(existing["run_id"], first["run_id"]);
    assert_eq!(existing["replayed"], true);

    body["id_conflict_policy"] = json!("terminate_existing");
    let replaced = json(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_ne!(replaced["run_id"], first["run_id"]);
    assert_eq!(replaced["replayed"], false);

    // The first run is closed (terminated): reject_duplicate refuses the id, the default reuses it.
    env.http
        .post(env.url("/v1/workflows/policy-order/terminate"))
        .send()
        .await
        .unwrap();
    body["id_conflict_policy"] = json!("fail");
    body["id_reuse_policy"] = json!("reject_duplicate");
    problem(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::CONFLICT,
    )
    .await;
    body["id_reuse_policy"] = json!("allow_duplicate");
    let reused = json(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_ne!(reused["run_id"], replaced["run_id"]);
}
