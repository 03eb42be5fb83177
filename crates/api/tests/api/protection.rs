//! Protection of the public listener: per-client rate limit, load shedding, request timeout,
//! and the config rule that keeps the timeout above the result wait.

use std::time::{Duration, Instant};

use flowgate_testkit::{TestEnv, metrics::scrape};
use reqwest::StatusCode;

use crate::{
    problem,
    v1_support::{get, header, post, shopping_start, waits_in_flight},
};

const REJECTED: &str = "flowgate_http_rejected_requests_total";

async fn rejected(env: &TestEnv, reason: &str) -> f64 {
    scrape(&env.http, &env.api_admin_url("/metrics"))
        .await
        .sum(REJECTED, &[("reason", reason)])
}

#[tokio::test]
async fn a_client_over_its_burst_gets_429_with_retry_after_and_other_clients_do_not() {
    // Arrange: 3 requests at once, then one every 10 s; the proxy's address list is trusted.
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            s.limits.rate_per_second = 0.1;
            s.limits.burst = 3;
            s.limits.trust_forwarded_for = true;
        })
        .start()
        .await;
    let client_a = [("x-forwarded-for", "198.51.100.9, 203.0.113.1")];

    // Act
    for _ in 0..3 {
        let response = get(&env, "/v1/workflows/no-such-workflow", &client_a).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let limited = get(&env, "/v1/workflows/no-such-workflow", &client_a).await;

    // Assert
    let retry_after: u64 = header(&limited, "retry-after")
        .parse()
        .expect("Retry-After");
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    let body = problem(limited, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(body["code"], "rate-limited", "{body}");
    let client_b = [("x-forwarded-for", "198.51.100.9, 203.0.113.2")];
    let other = get(&env, "/v1/workflows/no-such-workflow", &client_b).await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "another client");
    let probe = get(&env, "/livez", &client_a).await;
    assert_eq!(probe.status(), StatusCode::OK, "probes are never limited");
    assert_eq!(rejected(&env, "rate_limited").await, 1.0);
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_unless_trusted() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            s.limits.rate_per_second = 0.1;
            s.limits.burst = 2;
        })
        .start()
        .await;

    for ip in ["203.0.113.1", "203.0.113.2"] {
        let response = get(&env, "/v1/workflows/x", &[("x-forwarded-for", ip)]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let third = get(
        &env,
        "/v1/workflows/x",
        &[("x-forwarded-for", "203.0.113.3")],
    )
    .await;

    problem(third, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_are_shed_at_once_with_503() {
    // Arrange: no worker, so the workflows keep running and the two waits stay in flight.
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| s.limits.max_concurrent_requests = 2)
        .start()
        .await;
    let waits = waits_in_flight(&env, 2, "6s", &[]).await;

    // Act
    let started = Instant::now();
    let shed = get(&env, "/v1/workflows/any", &[]).await;

    // Assert
    assert!(started.elapsed() < Duration::from_secs(2), "not queued");
    assert_eq!(header(&shed, "retry-after"), "1");
    let body = problem(shed, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["code"], "overloaded", "{body}");
    let probe = get(&env, "/readyz", &[]).await;
    assert_eq!(probe.status(), StatusCode::OK, "probes are never shed");
    for wait in waits {
        let response = wait.await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "the waits ran out");
    }
    assert_eq!(rejected(&env, "overloaded").await, 1.0);
    let after = get(&env, "/v1/workflows/any", &[]).await;
    assert_eq!(
        after.status(),
        StatusCode::NOT_FOUND,
        "slots are given back"
    );
}

#[tokio::test]
async fn a_request_over_the_request_timeout_is_answered_504() {
    // A timeout below the wait passes here only because the test bypasses config validation.
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| s.api.request_timeout = Duration::from_secs(1))
        .start()
        .await;

    let started = Instant::now();
    let body = shopping_start(&[("CHERRY", 1)]);
    let response = post(&env, "/v1/workflows/shopping?wait=10s", Some(&body), &[]).await;

    assert!(started.elapsed() < Duration::from_secs(5), "cut at 1 s");
    let body = problem(response, StatusCode::GATEWAY_TIMEOUT).await;
    assert_eq!(body["code"], "request-timeout", "{body}");
    assert_eq!(rejected(&env, "timeout").await, 1.0);
}

#[test]
fn a_request_timeout_not_above_the_result_wait_is_rejected_naming_both_keys() {
    let env = [
        ("FLOWGATE_API__RESULT_WAIT", "30s"),
        ("FLOWGATE_API__REQUEST_TIMEOUT", "30s"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();

    let error = flowgate_config::load_from(None, &env)
        .expect_err("rejected")
        .to_string();

    assert!(!error.contains('\n'), "{error}");
    assert!(error.contains("api.request_timeout"), "{error}");
    assert!(error.contains("api.result_wait"), "{error}");
}
