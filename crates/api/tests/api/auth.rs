//! API keys (`[auth]`): 401 without a valid key, 403 without the permission, rotation, open
//! probes and docs, per-key rate limits, and keys that never leak into logs or problems.

use flowgate_config::{ApiKeySettings, AuthSettings, Secret, Settings};
use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::{
    json, problem,
    v1_support::{approval_start, get, header, post, segment, shopping_start},
};

pub(crate) const ADMIN: &str = "admin-key-0f9c2e7a";
pub(crate) const SHOP: &str = "shop-key-5b1d88c4";
const READER_OLD: &str = "reader-old-key-77aa";
const READER_NEW: &str = "reader-new-key-31bb";
const APPROVALS: &str = "approval-reader-key-9e4d";

pub(crate) fn sha256_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn api_key(name: &str, key: &str, permissions: &[&str]) -> ApiKeySettings {
    ApiKeySettings {
        name: name.to_owned(),
        sha256: Secret::new(sha256_hex(key)),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        roles: Vec::new(),
    }
}

fn with_keys(s: &mut Settings) {
    s.auth = AuthSettings {
        enabled: true,
        api_keys: vec![
            api_key("admin", ADMIN, &["*:*"]),
            api_key("shop", SHOP, &["start:shopping"]),
            api_key("reader-2025", READER_OLD, &["read:*"]),
            api_key("reader-2026", READER_NEW, &["read:*"]),
            api_key("approvals", APPROVALS, &["read:order-approval"]),
        ],
        ..AuthSettings::default()
    };
}

/// Authentication on, with these API keys: (name, key, permissions).
pub(crate) fn keys(settings: &mut Settings, keys: &[(&str, &str, &[&str])]) {
    settings.auth = AuthSettings {
        enabled: true,
        api_keys: keys
            .iter()
            .map(|(name, key, permissions)| api_key(name, key, permissions))
            .collect(),
        ..AuthSettings::default()
    };
}

pub(crate) fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn auth_env() -> TestEnv {
    TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await
}

#[tokio::test]
async fn requests_without_a_valid_key_get_401_with_www_authenticate() {
    let env = auth_env().await;
    let wrong = bearer("not-a-configured-key");
    let cases = [
        ("GET", "/v1/workflows", vec![]),
        ("POST", "/workflows/shopping", vec![]),
        (
            "GET",
            "/v1/workflows",
            vec![("authorization", wrong.as_str())],
        ),
        (
            "GET",
            "/v1/workflows",
            vec![("x-api-key", "not-a-configured-key")],
        ),
        (
            "GET",
            "/v1/workflows",
            vec![("authorization", "Basic YWRtaW46YWRtaW4=")],
        ),
    ];
    for (method, path, headers) in cases {
        let response = if method == "GET" {
            get(&env, path, &headers).await
        } else {
            post(&env, path, Some(&shopping_start(&[("APPLE", 1)])), &headers).await
        };
        assert!(
            header(&response, "www-authenticate").starts_with("Bearer"),
            "{method} {path} {headers:?}"
        );
        let body = problem(response, StatusCode::UNAUTHORIZED).await;
        assert_eq!(body["code"], "unauthenticated", "{body}");
        assert!(!body.to_string().contains("not-a-configured-key"), "{body}");
    }
}

#[tokio::test]
async fn a_start_shopping_key_starts_shopping_but_not_order_approval_and_cannot_cancel() {
    let env = auth_env().await;
    let shop = bearer(SHOP);
    let shop = [("authorization", shop.as_str())];

    let guide = post(
        &env,
        "/workflows/shopping/async",
        Some(&shopping_start(&[("APPLE", 1)])["input"]),
        &shop,
    )
    .await;
    assert!(guide.status().is_success(), "{}", guide.status());
    let v1 = json(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&shopping_start(&[("BANANA", 2)])),
            &shop,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = segment(v1["workflow_id"].as_str().unwrap());

    let approval = post(
        &env,
        "/v1/workflows/order-approval",
        Some(&approval_start("ACME")),
        &shop,
    )
    .await;
    let body = problem(approval, StatusCode::FORBIDDEN).await;
    assert_eq!(body["code"], "forbidden", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("\"shop\""),
        "{body}"
    );
    assert!(!body.to_string().contains(SHOP), "{body}");
    let cancel = post(&env, &format!("/v1/workflows/{id}/cancel"), None, &shop).await;
    problem(cancel, StatusCode::FORBIDDEN).await;
    let status = get(&env, &format!("/workflows/{id}/status"), &shop).await;
    problem(status, StatusCode::FORBIDDEN).await;

    // The workflow is still running: the refused cancel did nothing.
    let admin = bearer(ADMIN);
    let described = json(
        get(
            &env,
            &format!("/v1/workflows/{id}"),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(described["status"], "running", "{described}");
}

#[tokio::test]
async fn two_keys_are_valid_at_once_for_rotation_and_a_read_key_cannot_start() {
    let env = auth_env().await;
    let admin = bearer(ADMIN);
    let started = json(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&shopping_start(&[("APPLE", 1)])),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = segment(started["workflow_id"].as_str().unwrap());

    let old = bearer(READER_OLD);
    for headers in [
        [("authorization", old.as_str())],
        [("x-api-key", READER_NEW)],
    ] {
        json(get(&env, "/v1/workflows", &headers).await, StatusCode::OK).await;
        let described = json(
            get(&env, &format!("/v1/workflows/{id}"), &headers).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            described["workflow_type"], "ShoppingWorkflow",
            "{described}"
        );
        let status = get(&env, &format!("/workflows/{id}/status"), &headers).await;
        assert_eq!(status.status(), StatusCode::OK, "the guide's status route");
        let start = post(
            &env,
            "/v1/workflows/shopping",
            Some(&shopping_start(&[("APPLE", 1)])),
            &headers,
        )
        .await;
        problem(start, StatusCode::FORBIDDEN).await;
    }
}

#[tokio::test]
async fn a_key_restricted_to_a_workflow_type_reads_only_workflows_of_that_type() {
    let env = auth_env().await;
    let admin = bearer(ADMIN);
    let admin = [("authorization", admin.as_str())];
    let shopping = json(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&shopping_start(&[("APPLE", 1)])),
            &admin,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let order = json(
        post(
            &env,
            "/v1/workflows/order-approval",
            Some(&approval_start("ACME")),
            &admin,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let approvals = [("x-api-key", APPROVALS)];

    let own = get(
        &env,
        &format!(
            "/v1/workflows/{}",
            segment(order["workflow_id"].as_str().unwrap())
        ),
        &approvals,
    )
    .await;
    json(own, StatusCode::OK).await;
    let other = get(
        &env,
        &format!(
            "/v1/workflows/{}",
            segment(shopping["workflow_id"].as_str().unwrap())
        ),
        &approvals,
    )
    .await;
    problem(other, StatusCode::FORBIDDEN).await;
    problem(
        get(&env, "/v1/workflows", &approvals).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let missing = get(&env, "/v1/workflows/no-such-workflow", &approvals).await;
    problem(missing, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn health_readiness_docs_and_metrics_stay_open() {
    let env = auth_env().await;
    for path in ["/", "/livez", "/readyz", "/openapi.json", "/docs/"] {
        let response = get(&env, path, &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let metrics = env
        .http
        .get(env.api_admin_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
}

#[tokio::test]
async fn rate_limits_count_per_key_when_authenticated() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            with_keys(s);
            s.limits.rate_per_second = 0.1;
            s.limits.burst = 2;
        })
        .start()
        .await;
    let old = [("x-api-key", READER_OLD)];
    for _ in 0..2 {
        json(get(&env, "/v1/workflows", &old).await, StatusCode::OK).await;
    }
    problem(
        get(&env, "/v1/workflows", &old).await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    // Same address, another key: its own bucket.
    json(
        get(&env, "/v1/workflows", &[("x-api-key", READER_NEW)]).await,
        StatusCode::OK,
    )
    .await;
}
