//! Red team: the unknown-field walk (`registry::unknown_fields`) reports every unknown field of
//! a workflow input, each with the list of known fields, and the problem repeats every one of
//! them a second time in its `detail`. A body of many short unknown keys, within the body limit,
//! is answered with a 422 many times its size, built whole in memory first: a client holding
//! its concurrency slots makes the API allocate and send an order of magnitude more than it
//! sends itself.

use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

#[tokio::test]
async fn a_422_for_unknown_input_fields_is_not_larger_than_the_request() {
    let env = TestEnv::builder().without_worker().start().await;
    // Within the default 1 MiB body limit.
    let mut input = Map::new();
    input.insert("items".to_owned(), json!([{"fruit": "APPLE", "amount": 1}]));
    for i in 0..80_000 {
        input.insert(format!("k{i}"), json!(0));
    }
    let body = serde_json::to_vec(&json!({ "input": Value::Object(input) })).unwrap();
    let sent = body.len();
    assert!(sent < 1024 * 1024, "{sent}");

    let response = env
        .http
        .post(env.url("/v1/workflow-types/shopping/start"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST reaches the API");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer = response.bytes().await.expect("body");
    let problem: Value = serde_json::from_slice(&answer).expect("problem");
    let errors = problem["errors"].as_array().map_or(0, Vec::len);
    assert!(
        answer.len() <= sent,
        "a {sent}-byte request got a {}-byte 422 ({:.1}x; {errors} field errors, each also \
         repeated in `detail`): error lists should be capped",
        answer.len(),
        answer.len() as f64 / sent as f64,
    );
}
