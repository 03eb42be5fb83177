//! CORS for configured origins only, and security headers on every response.

use flowgate_testkit::TestEnv;
use reqwest::{Method, Response, StatusCode};

use crate::v1_support::header;

const APP: &str = "https://app.example.com";

async fn request(env: &TestEnv, method: Method, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = env.http.request(method, env.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request reaches the API")
}

/// A CORS preflight for `POST /v1/workflows/shopping` with the headers a browser app sends.
async fn preflight(env: &TestEnv, origin: &str) -> Response {
    request(
        env,
        Method::OPTIONS,
        "/v1/workflows/shopping",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type, idempotency-key, prefer",
            ),
        ],
    )
    .await
}

fn list(response: &Response, name: &str) -> Vec<String> {
    header(response, name)
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .collect()
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers_and_another_gets_none() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| s.cors.allowed_origins = vec![APP.to_owned()])
        .start()
        .await;
    let allowed = preflight(&env, APP).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(header(&allowed, "access-control-allow-origin"), APP);
    assert!(list(&allowed, "access-control-allow-methods").contains(&"post".to_owned()));
    let headers = list(&allowed, "access-control-allow-headers");
    for name in ["content-type", "idempotency-key", "prefer"] {
        assert!(headers.contains(&name.to_owned()), "{name} in {headers:?}");
    }
    let actual = request(&env, Method::GET, "/v1/workflows/x", &[("origin", APP)]).await;
    assert_eq!(actual.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&actual, "access-control-allow-origin"), APP);
    let exposed = list(&actual, "access-control-expose-headers");
    for name in [
        "location",
        "idempotent-replayed",
        "preference-applied",
        "retry-after",
        "x-request-id",
    ] {
        assert!(exposed.contains(&name.to_owned()), "{name} in {exposed:?}");
    }

    let other = preflight(&env, "https://evil.example").await;
    assert_eq!(header(&other, "access-control-allow-origin"), "");
    let other = request(
        &env,
        Method::GET,
        "/v1/workflows/x",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(header(&other, "access-control-allow-origin"), "");
}

#[tokio::test]
async fn api_and_docs_responses_carry_security_headers_and_no_cors_by_default() {
    let env = TestEnv::builder().without_worker().start().await;

    let api = request(&env, Method::GET, "/v1/workflows/x", &[("origin", APP)]).await;
    let probe = request(&env, Method::GET, "/livez", &[]).await;
    let docs = request(&env, Method::GET, "/docs/", &[]).await;
    let asset = request(&env, Method::GET, "/docs/swagger-ui.css", &[]).await;

    for response in [&api, &probe, &docs, &asset] {
        let what = response.url().path().to_owned();
        assert_eq!(
            header(response, "x-content-type-options"),
            "nosniff",
            "{what}"
        );
        assert_eq!(header(response, "referrer-policy"), "no-referrer", "{what}");
        assert_eq!(header(response, "x-frame-options"), "DENY", "{what}");
    }
    assert_eq!(
        header(&api, "access-control-allow-origin"),
        "",
        "CORS is off"
    );
    for response in [&api, &probe] {
        assert!(header(response, "content-security-policy").starts_with("default-src 'none'"));
        assert!(!header(response, "content-security-policy").contains("unsafe"));
        assert_eq!(header(response, "cache-control"), "no-store");
    }
    for response in [&docs, &asset] {
        let csp = header(response, "content-security-policy");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert_ne!(header(response, "cache-control"), "no-store");
    }
    // The policy allows no inline scripts: the Swagger UI page must have none.
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.unwrap();
    assert!(html.contains("<script src="), "{html}");
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "{html}"
    );
}
