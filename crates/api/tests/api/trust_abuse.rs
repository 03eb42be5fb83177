//! Abuse: guessing keys and floods of bogus credentials are throttled before any verification,
//! one client cannot take every concurrency slot, and slow or idle connections are closed.

use std::time::Duration;

use flowgate_config::Settings;
use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    auth::{ADMIN, bearer, keys},
    json, problem,
    v1_support::{get, header, post, shopping_start, waits_in_flight},
};

const OTHER: &str = "other-client-key-2b9f";

fn with_keys(s: &mut Settings) {
    keys(s, &[("admin", ADMIN, &["*:*"]), ("other", OTHER, &["*:*"])]);
}

#[tokio::test]
async fn failed_authentications_are_throttled_per_address_before_verification() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            with_keys(s);
            s.limits.failed_auth_per_minute = 3;
            s.limits.trust_forwarded_for = true;
        })
        .start()
        .await;
    let attacker = "203.0.113.9";
    let guesses = ["guess-1", "guess-2", "guess-3"];
    for guess in guesses {
        let auth = bearer(guess);
        let response = get(
            &env,
            "/v1/workflows",
            &[("authorization", &auth), ("x-forwarded-for", attacker)],
        )
        .await;
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
    // Out of failures: answered before any credential is looked at, even a valid one, and a
    // request without credentials too.
    let admin = bearer(ADMIN);
    for headers in [
        vec![
            ("authorization", "Bearer guess-4"),
            ("x-forwarded-for", attacker),
        ],
        vec![
            ("authorization", admin.as_str()),
            ("x-forwarded-for", attacker),
        ],
        vec![("x-forwarded-for", attacker)],
    ] {
        let response = get(&env, "/v1/workflows", &headers).await;
        assert!(!header(&response, "retry-after").is_empty());
        let body = problem(response, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(body["code"], "rate-limited", "{body}");
    }
    // Another address is not affected; probes never are.
    let response = get(
        &env,
        "/v1/workflows",
        &[
            ("authorization", &admin),
            ("x-forwarded-for", "203.0.113.10"),
        ],
    )
    .await;
    json(response, StatusCode::OK).await;
    let probe = get(&env, "/readyz", &[("x-forwarded-for", attacker)]).await;
    assert_eq!(probe.status(), StatusCode::OK);
}

#[tokio::test]
async fn one_client_cannot_take_every_concurrency_slot() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            with_keys(s);
            s.limits.max_concurrent_requests = 10;
            s.limits.max_concurrent_per_client = 2;
        })
        .start()
        .await;
    let admin = bearer(ADMIN);
    // Two long waits of the admin's hold its two slots (no worker: the workflows keep running).
    let waits = waits_in_flight(&env, 2, "20s", &[("authorization", &admin)]).await;
    let shed = get(&env, "/v1/workflows", &[("authorization", &admin)]).await;
    assert_eq!(header(&shed, "retry-after"), "1");
    let body = problem(shed, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["code"], "overloaded", "{body}");

    let other = bearer(OTHER);
    json(
        get(&env, "/v1/workflows", &[("authorization", &other)]).await,
        StatusCode::OK,
    )
    .await;
    let started = post(
        &env,
        "/v1/workflows/shopping",
        Some(&shopping_start(&[("PEAR", 1)])),
        &[("authorization", &other)],
    )
    .await;
    assert_ne!(started.status(), StatusCode::SERVICE_UNAVAILABLE);
    for wait in waits {
        wait.abort();
    }
}

/// Reads until the server closes the connection; `None` if it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    Some(received)
}

#[tokio::test]
async fn a_client_trickling_headers_or_idling_loses_its_connection() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| s.api.idle_timeout = Duration::from_secs(1))
        .start()
        .await;
    let address = env.api_addr();

    // Headers that never end.
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /livez HTTP/1.1\r\nHost: flowgate\r\nX-Slow: ")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(10))
            .await
            .is_some(),
        "a connection trickling its headers is closed"
    );

    // A kept-alive connection that goes quiet after a request.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /livez HTTP/1.1\r\nHost: flowgate\r\n\r\n")
        .await
        .unwrap();
    let received = closed_within(&mut idle, Duration::from_secs(10))
        .await
        .expect("an idle connection is closed");
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "the request was answered first: {text}"
    );
}

/// An answer given before the request's body was read (here: no credentials) says
/// `Connection: close`: the server closes that connection, and a client that reused it for its
/// next request would lose that request. An answer given after the body was read in full (a
/// validation error) keeps the connection for the next request.
#[tokio::test]
async fn an_answer_given_before_the_body_is_read_closes_the_connection_openly() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    let start = "POST /v1/workflow-types/shopping/start HTTP/1.1\r\nHost: flowgate\r\n\
                 Content-Type: application/json\r\n";

    // The body has not arrived when the answer is written.
    let mut early = TcpStream::connect(env.api_addr()).await.unwrap();
    early
        .write_all(format!("{start}Content-Length: 64\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let received = closed_within(&mut early, Duration::from_secs(10))
        .await
        .expect("the connection is closed after the answer");
    let answer = String::from_utf8_lossy(&received).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");

    // The body is read and rejected: the next request on the connection is answered too.
    let body = r#"{"input":{"items":[{"fruit":"KIWI","amount":0}]}}"#;
    let mut read = TcpStream::connect(env.api_addr()).await.unwrap();
    let requests = format!(
        "{start}Authorization: Bearer {ADMIN}\r\nContent-Length: {}\r\n\r\n{body}\
         GET /livez HTTP/1.1\r\nHost: flowgate\r\nConnection: close\r\n\r\n",
        body.len()
    );
    read.write_all(requests.as_bytes()).await.unwrap();
    let received = closed_within(&mut read, Duration::from_secs(10))
        .await
        .expect("the connection is closed after the second answer");
    let answers = String::from_utf8_lossy(&received).to_ascii_lowercase();
    assert!(answers.starts_with("http/1.1 422"), "{answers}");
    assert!(answers.contains("http/1.1 200"), "{answers}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| s.api.max_connections = 2)
        .start()
        .await;
    let address = env.api_addr();
    let first = TcpStream::connect(&address).await.unwrap();
    let _second = TcpStream::connect(&address).await.unwrap();
    let mut third = TcpStream::connect(&address).await.unwrap();
    third
        .write_all(b"GET /livez HTTP/1.1\r\nHost: flowgate\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    // A bounded look for an answer that must not come.
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "a third connection is not served while two are open"
    );
    drop(first);
    let received = closed_within(&mut third, Duration::from_secs(10))
        .await
        .expect("served once a connection closed");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn the_openapi_document_is_served_as_prepared_at_start_up() {
    let env = TestEnv::builder().without_worker().start().await;
    let first = env.get("/openapi.json").await;
    assert_eq!(header(&first, "content-type"), "application/json");
    let first = first.bytes().await.unwrap();
    let second = env.get("/openapi.json").await.bytes().await.unwrap();
    assert_eq!(first, second);
    let expected = serde_json::to_vec(&flowgate_api::openapi()).unwrap();
    assert_eq!(first, expected);
}
