//! Every error class answers with a problem document and never a 500.

use std::time::Duration;

use flowgate_testkit::{TestEnv, shopping_body};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::problem;

async fn post_raw(
    env: &TestEnv,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = env.http.post(env.url(path)).body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn malformed_json_is_a_400_that_says_where() {
    let env = TestEnv::start().await;
    let body = problem(
        post_raw(
            &env,
            "/workflows/shopping",
            Some("application/json"),
            "{\"items\": [}",
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["code"], "malformed-json");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("line 1 column 12"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_declared_as_json_is_a_415() {
    let env = TestEnv::start().await;
    let valid = r#"{"items":[{"fruit":"APPLE","amount":1}]}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let body = problem(
            post_raw(&env, "/workflows/shopping/async", content_type, valid).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        )
        .await;
        assert_eq!(body["code"], "unsupported-media-type", "{content_type:?}");
    }
}

/// (body, JSON pointer of the offending field, words the detail must contain)
fn invalid_bodies() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        (json!({"items": []}), "/items", "at least one"),
        (
            json!({"items": vec![json!({"fruit": "APPLE", "amount": 1}); 101]}),
            "/items",
            "at most 100",
        ),
        (
            json!({"items": [{"fruit": "GRAPE", "amount": 1}]}),
            "/items/0/fruit",
            "must be one of APPLE, BANANA, CHERRY, ORANGE, got \"GRAPE\"",
        ),
        (
            json!({"items": [{"fruit": "apple", "amount": 1}]}),
            "/items/0/fruit",
            "apple",
        ),
        (
            json!({"items": [{"fruit": "APPLE", "amount": 0}]}),
            "/items/0/amount",
            "at least 1",
        ),
        (
            json!({"items": [{"fruit": "APPLE", "amount": 1}, {"fruit": "APPLE", "amount": -5}]}),
            "/items/1/amount",
            "at least 1",
        ),
        (
            json!({"items": [{"fruit": "APPLE", "amount": 10001}]}),
            "/items/0/amount",
            "at most 10000",
        ),
        (
            json!({"items": [{"fruit": "APPLE", "amount": "five"}]}),
            "/items/0/amount",
            "must be a whole number, got the string \"five\"",
        ),
        (
            json!({"items": [{"fruit": "APPLE", "amount": 1.5}]}),
            "/items/0/amount",
            "must be a whole number, got 1.5",
        ),
        (
            json!({"items": [{"fruit": "APPLE"}]}),
            "/items/0/amount",
            "is required",
        ),
        (
            json!({"items": "APPLE"}),
            "/items",
            "must be a list, got the string \"APPLE\"",
        ),
        (
            json!({"items": [3]}),
            "/items/0",
            "must be an object, got 3",
        ),
        (json!({}), "/items", "is required"),
        (json!([1, 2]), "", "must be a JSON object"),
        (
            json!({"items": [{"fruit": "APPLE", "amount": 1, "colour": "red"}]}),
            "/items/0/colour",
            "is not a known field (known: amount, fruit)",
        ),
        (
            json!({"items": [{"fruit": "APPLE", "amount": 1}], "priority": 1}),
            "/priority",
            "is not a known field (known: items, workflow_id)",
        ),
        (
            json!({"items": [{"fruit": "APPLE", "amount": 1}], "workflow_id": ""}),
            "/workflow_id",
            "empty",
        ),
    ]
}

#[tokio::test]
async fn invalid_shopping_lists_are_422s_that_name_the_field_in_the_same_words_on_every_route() {
    let env = TestEnv::builder().without_worker().start().await;
    let mut cases = Vec::new();
    for path in ["/workflows/shopping", "/workflows/shopping/async"] {
        for (body, pointer, words) in invalid_bodies() {
            cases.push((path, body, pointer.to_owned(), words));
        }
    }
    // The same lists as a /v1 input: the same words, under `/input`.
    for (body, pointer, words) in invalid_bodies() {
        let guide_only = !body.is_object()
            || body.get("workflow_id").is_some()
            || body.get("priority").is_some();
        if !guide_only {
            let body = json!({ "input": body });
            cases.push((
                "/v1/workflows/shopping",
                body,
                format!("/input{pointer}"),
                words,
            ));
        }
    }
    for (path, body, pointer, words) in cases {
        let problem = problem(
            env.post_json(path, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem["code"], "validation-failed");
        assert_eq!(
            problem["errors"][0]["pointer"], pointer,
            "{path} {body} → {problem}"
        );
        let detail = problem["errors"][0]["detail"].as_str().unwrap();
        assert!(
            detail.contains(words),
            "{path} {body}: {detail:?} should say {words:?}"
        );
        for rust in [
            "expected", "struct", "variant", "i64", "u32", "ItemIn", "Shopping",
        ] {
            assert!(
                !detail.contains(rust),
                "{path} {body}: {detail:?} names {rust:?}"
            );
        }
    }
}

#[tokio::test]
async fn limits_follow_the_configuration() {
    let env = TestEnv::builder()
        .settings(|s| {
            s.shopping.max_items = 2;
            s.shopping.max_amount = 7;
        })
        .start()
        .await;
    let too_many = shopping_body(&[("APPLE", 1), ("APPLE", 1), ("APPLE", 1)]);
    let body = problem(
        env.post_json("/workflows/shopping", &too_many).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("at most 2 items"),
        "{body}"
    );
    let too_much = shopping_body(&[("APPLE", 8)]);
    let body = problem(
        env.post_json("/workflows/shopping", &too_much).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("at most 7"),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_workflow_ids_are_404s() {
    let env = TestEnv::start().await;
    for path in [
        "/workflows/no-such-workflow/status",
        "/workflows/no-such-workflow/result",
    ] {
        let body = problem(env.get(path).await, StatusCode::NOT_FOUND).await;
        assert_eq!(body["code"], "workflow-not-found", "{path}");
        assert_eq!(body["instance"], path);
    }
}

#[tokio::test]
async fn unknown_paths_are_404s_and_wrong_methods_405s() {
    let env = TestEnv::start().await;
    let body = problem(env.get("/workflows").await, StatusCode::NOT_FOUND).await;
    assert_eq!(body["code"], "route-not-found");
    let response = env
        .http
        .delete(env.url("/workflows/shopping"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    let body = problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(body["code"], "method-not-allowed");
    let body = problem(
        env.http
            .post(env.url("/workflows/x/status"))
            .send()
            .await
            .unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    assert_eq!(body["code"], "method-not-allowed");
    // An id with an unencoded `/` falls outside every route: the answer names the fix.
    let body = problem(
        env.get("/v1/workflows/orders/2026/42/result").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("percent-encode any `/`"),
        "{body}"
    );
}

#[tokio::test]
async fn an_invalid_wait_is_a_422() {
    let env = TestEnv::start().await;
    let body = problem(
        env.get("/workflows/any/result?wait=soon").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["code"], "invalid-query");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let env = TestEnv::builder()
        .settings(|s| s.api.body_limit_bytes = 1024)
        .start()
        .await;
    let big = shopping_body(&vec![("APPLE", 1); 100]);
    assert!(serde_json::to_vec(&big).unwrap().len() > 1024);
    let body = problem(
        env.post_json("/workflows/shopping", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(body["code"], "payload-too-large");

    // Without Content-Length (chunked), the limit applies while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(b"{\"items\":[".to_vec()),
        Ok(vec![b' '; 4096]),
        Ok(b"]}".to_vec()),
    ];
    let response = env
        .http
        .post(env.url("/workflows/shopping"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn an_oversized_declared_body_is_refused_before_it_is_sent() {
    let env = TestEnv::start().await;
    let address = env.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Announce 100 MB, send none of it: the answer must come from the headers alone.
    let head = format!(
        "POST /workflows/shopping HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buffer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let text = String::from_utf8_lossy(&buffer[..read]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
}
