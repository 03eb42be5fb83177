//! Deny by default: every documented operation needs a permission unless it is open, and ids
//! in paths are checked before Temporal is asked anything.

use flowgate_config::Settings;
use flowgate_testkit::TestEnv;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{
    auth::{ADMIN, bearer, keys},
    problem,
};

/// A key whose permissions cover every action, on a workflow that does not exist.
const NOBODY: &str = "nobody-key-6a1b";

/// Operations anyone may call.
const OPEN: [&str; 3] = ["/", "/livez", "/readyz"];

fn with_keys(s: &mut Settings) {
    keys(
        s,
        &[
            ("admin", ADMIN, &["*:*"]),
            ("nobody", NOBODY, &["*:no-such-workflow"]),
        ],
    );
}

#[tokio::test]
async fn every_documented_operation_needs_a_permission_unless_it_is_open() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    let doc: Value = env.get("/openapi.json").await.json().await.unwrap();
    let nobody = bearer(NOBODY);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let url = env.url(
                &path
                    .replace("{workflow_id}", "some-workflow")
                    .replace("{name}", "some-name"),
            );
            let anonymous = env.http.request(method.clone(), &url).send().await.unwrap();
            let with_key = env
                .http
                .request(method.clone(), &url)
                .header("authorization", &nobody)
                .send()
                .await
                .unwrap();
            if OPEN.contains(&path.as_str()) {
                assert!(anonymous.status().is_success(), "{method} {path}");
                continue;
            }
            let body = problem(anonymous, StatusCode::UNAUTHORIZED).await;
            assert_eq!(body["code"], "unauthenticated", "{method} {path}");
            let body = problem(with_key, StatusCode::FORBIDDEN).await;
            assert_eq!(body["code"], "forbidden", "{method} {path}: {body}");
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} operations documented");
}

#[tokio::test]
async fn ids_in_paths_are_checked_like_ids_in_bodies_before_temporal_is_asked() {
    let mut env = TestEnv::builder().without_worker().start().await;
    // With Temporal gone, anything that reached it would be a 503.
    env.temporal.kill().await.unwrap();
    let long = "x".repeat(256);
    for id in ["%01", "a%0Ab", "%20%20", long.as_str()] {
        for path in [
            format!("/v1/workflows/{id}"),
            format!("/v1/workflows/{id}/result"),
            format!("/workflows/{id}/status"),
            format!("/workflows/{id}/result"),
        ] {
            let body = problem(env.get(&path).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(body["code"], "invalid-path", "{path}: {body}");
            assert!(
                body["detail"].as_str().unwrap().contains("workflow id"),
                "{body}"
            );
        }
        let cancel = env
            .http
            .post(env.url(&format!("/v1/workflows/{id}/cancel")))
            .send()
            .await
            .unwrap();
        problem(cancel, StatusCode::BAD_REQUEST).await;
    }
}
