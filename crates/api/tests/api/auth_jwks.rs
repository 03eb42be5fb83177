//! Token signing keys from the issuer's key set (`auth.jwt.jwks_url`), served over real HTTP:
//! rotation without a restart, bounded refetches for unknown kids, 503 until a fetch succeeds,
//! and no key set accepted from a redirect or from a body over 1 MiB.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router, extract::State, http::StatusCode as AxumStatus, routing::get as route_get,
};
use flowgate_testkit::{TestEnv, metrics::scrape};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    auth::ADMIN,
    auth_jwt::{Signer, bearer, jwt_settings},
    json, problem,
    v1_support::get,
};

/// An API (no worker) verifying tokens against the key set at `url`.
async fn jwks_env(url: String, min_refresh: Duration) -> TestEnv {
    TestEnv::builder()
        .without_worker()
        .settings(|s| {
            jwt_settings(s, |jwt| {
                jwt.jwks_url = Some(url);
                // The test issuer serves plain http on 127.0.0.1: the development opt-in.
                jwt.jwks_allow_http = true;
                jwt.jwks_min_refresh_interval = min_refresh;
            });
        })
        .start()
        .await
}

/// A JWKS endpoint: serves whatever set it holds and counts the fetches.
#[derive(Clone, Default)]
struct KeySetServer {
    set: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    failing: Arc<Mutex<bool>>,
}

impl KeySetServer {
    async fn start(keys: &[&Signer]) -> (Self, String) {
        let server = Self::default();
        server.publish(keys);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let app = Router::new()
            .route(
                "/.well-known/jwks.json",
                route_get(|State(s): State<Self>| async move {
                    s.fetches.fetch_add(1, Ordering::SeqCst);
                    if *s.failing.lock().unwrap() {
                        return Err(AxumStatus::INTERNAL_SERVER_ERROR);
                    }
                    Ok(Json(s.set.lock().unwrap().clone()))
                }),
            )
            // The same set, one hop away: what a hijacked or misconfigured issuer answers.
            .route(
                "/moved",
                route_get(|| async {
                    axum::response::Redirect::temporary("/.well-known/jwks.json")
                }),
            )
            // The same set, padded past 1 MiB: a body the API must not hold in memory.
            .route(
                "/huge.json",
                route_get(|State(s): State<Self>| async move {
                    let mut set = s.set.lock().unwrap().clone();
                    set["padding"] = Value::String("x".repeat(3 * 1024 * 1024 / 2));
                    Json(set)
                }),
            )
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (server, url)
    }

    fn publish(&self, keys: &[&Signer]) {
        *self.set.lock().unwrap() =
            json!({"keys": keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>()});
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// Between two fetches of the key set for unknown kids: short, so tests need not wait.
const MIN_REFRESH: Duration = Duration::from_millis(1);

/// A token for a key the set at `path` of a [`KeySetServer`] holds gets 503 (no key set could
/// be fetched), and the failed fetches are counted; the server's real path was never asked.
async fn key_set_is_refused(path: &str) {
    let key = Signer::es256("k");
    let (server, url) = KeySetServer::start(&[&key]).await;
    let env = jwks_env(url.replace("/.well-known/jwks.json", path), MIN_REFRESH).await;
    let token = bearer(&key.token("svc", &["reader"]));
    for _ in 0..2 {
        let body = problem(
            get(&env, "/v1/workflows", &[("authorization", &token)]).await,
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("jwks_url"),
            "{body}"
        );
    }
    let metrics = scrape(&env.http, &env.api_admin_url("/metrics")).await;
    let errors = metrics.value("flowgate_auth_jwks_fetches_total", &[("outcome", "error")]);
    assert!(errors.unwrap_or_default() >= 1.0, "{errors:?}");
    let ok = metrics.value("flowgate_auth_jwks_fetches_total", &[("outcome", "ok")]);
    assert_eq!(ok.unwrap_or_default(), 0.0, "{ok:?}");
    assert_eq!(server.fetches(), 0, "no redirect was followed");
}

#[tokio::test]
async fn a_key_set_url_that_redirects_is_not_followed() {
    key_set_is_refused("/moved").await;
}

#[tokio::test]
async fn a_key_set_larger_than_1_mib_is_refused() {
    key_set_is_refused("/huge.json").await;
}

#[tokio::test]
async fn keys_from_a_jwks_url_rotate_without_a_restart() {
    let first = Signer::es256("2026-10");
    let second = Signer::es256("2026-11");
    let (server, url) = KeySetServer::start(&[&first]).await;
    let env = jwks_env(url, MIN_REFRESH).await;
    let old = bearer(&first.token("svc-a", &["reader"]));
    json(
        get(&env, "/v1/workflows", &[("authorization", &old)]).await,
        StatusCode::OK,
    )
    .await;

    // The issuer rotates: a token with the new kid makes the API fetch the set again.
    server.publish(&[&second]);
    let new = bearer(&second.token("svc-a", &["reader"]));
    json(
        get(&env, "/v1/workflows", &[("authorization", &new)]).await,
        StatusCode::OK,
    )
    .await;
    // The retired key is gone with the set that no longer lists it.
    let body = problem(
        get(&env, "/v1/workflows", &[("authorization", &old)]).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(
        !body["detail"].as_str().unwrap().contains("2026-10"),
        "the token's kid is not echoed: {body}"
    );

    // The issuer's set is down: known keys keep working.
    *server.failing.lock().unwrap() = true;
    json(
        get(&env, "/v1/workflows", &[("authorization", &new)]).await,
        StatusCode::OK,
    )
    .await;
    let metrics = scrape(&env.http, &env.api_admin_url("/metrics")).await;
    let ok = metrics.value("flowgate_auth_jwks_fetches_total", &[("outcome", "ok")]);
    assert!(ok.unwrap_or_default() >= 2.0, "{ok:?}");
}

#[tokio::test]
async fn unknown_kids_do_not_fetch_the_key_set_more_often_than_allowed() {
    let key = Signer::es256("only");
    let (server, url) = KeySetServer::start(&[&key]).await;
    let env = jwks_env(url, Duration::from_secs(3600)).await;
    let good = bearer(&key.token("svc", &["reader"]));
    json(
        get(&env, "/v1/workflows", &[("authorization", &good)]).await,
        StatusCode::OK,
    )
    .await;
    let fetched = server.fetches();
    assert_eq!(fetched, 1, "one fetch at start");
    let unknown = Signer::es256("not-published");
    let token = bearer(&unknown.token("svc", &["reader"]));
    for _ in 0..10 {
        problem(
            get(&env, "/v1/workflows", &[("authorization", &token)]).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    assert_eq!(
        server.fetches(),
        fetched,
        "unknown kids must not hammer the issuer"
    );
}

#[tokio::test]
async fn tokens_get_503_while_the_key_set_cannot_be_fetched_and_api_keys_still_work() {
    let key = Signer::es256("k");
    // Nothing listens there.
    let url = format!(
        "http://127.0.0.1:{}/jwks.json",
        flowgate_testkit::process::free_port()
    );
    let env = jwks_env(url, MIN_REFRESH).await;
    let token = bearer(&key.token("svc", &["reader"]));
    let body = problem(
        get(&env, "/v1/workflows", &[("authorization", &token)]).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("jwks_url"),
        "{body}"
    );
    json(
        get(&env, "/v1/workflows", &[("x-api-key", ADMIN)]).await,
        StatusCode::OK,
    )
    .await;
    let metrics = scrape(&env.http, &env.api_admin_url("/metrics")).await;
    let errors = metrics.value("flowgate_auth_jwks_fetches_total", &[("outcome", "error")]);
    assert!(errors.unwrap_or_default() >= 1.0, "{errors:?}");
}
