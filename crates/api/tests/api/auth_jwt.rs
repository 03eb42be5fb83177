//! JWT bearer tokens (`[auth.jwt]`): static keys (Ed25519 PEM, HMAC) and a JWKS URL with key
//! rotation; issuer, audience, expiry and clock skew; permissions from roles; 401/403 problems and
//! their metrics. Keys are generated per test run; the key set is served over real HTTP.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router, extract::State, http::StatusCode as AxumStatus, routing::get as route_get,
};
use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use flowgate_config::{AuthSettings, JwtKeySettings, JwtSettings, Secret, Settings};
use flowgate_testkit::{TestEnv, metrics::scrape};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
};
use serde_json::{Value, json};

use crate::{
    auth::{ADMIN, sha256_hex},
    json, problem,
    v1_support::{approval_start, get, header, post, shopping_start},
};

const ISSUER: &str = "https://idp.example.test/";
const AUDIENCE: &str = "flowgate";
const HMAC_SECRET: &str = "an-hmac-secret-of-at-least-32-bytes!";

/// A signing key pair generated for this run.
struct Signer {
    kid: Option<String>,
    algorithm: Algorithm,
    encoding: EncodingKey,
    /// Ed25519: the public key as PEM; EC: the key as a JWK.
    public: Value,
}

impl Signer {
    fn ed25519(kid: Option<&str>) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        // SubjectPublicKeyInfo of an Ed25519 key: a fixed prefix and the 32 key bytes.
        let mut spki = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        spki.extend_from_slice(pair.public_key().as_ref());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(&spki)
        );
        Self {
            kid: kid.map(str::to_owned),
            algorithm: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public: Value::String(pem),
        }
    }

    fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref(); // 0x04 || x || y
        Self {
            kid: Some(kid.to_owned()),
            algorithm: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            public: json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            }),
        }
    }

    fn hmac(kid: &str) -> Self {
        Self {
            kid: Some(kid.to_owned()),
            algorithm: Algorithm::HS256,
            encoding: EncodingKey::from_secret(HMAC_SECRET.as_bytes()),
            public: Value::Null,
        }
    }

    fn static_key(&self) -> JwtKeySettings {
        JwtKeySettings {
            kid: self.kid.clone(),
            algorithm: format!("{:?}", self.algorithm),
            pem: self.public.as_str().map(str::to_owned),
            secret: (self.algorithm == Algorithm::HS256).then(|| Secret::new(HMAC_SECRET)),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A valid token for `sub` with `roles`.
    fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.sign(&claims(sub, roles))
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": roles,
        "iat": now(), "exp": now() + 300,
    })
}

fn jwt_settings(s: &mut Settings, adjust: impl FnOnce(&mut JwtSettings)) {
    let mut jwt = JwtSettings {
        issuer: ISSUER.to_owned(),
        audience: vec![AUDIENCE.to_owned(), "other-audience".to_owned()],
        clock_skew: Duration::from_secs(60),
        ..JwtSettings::default()
    };
    adjust(&mut jwt);
    s.auth = AuthSettings {
        enabled: true,
        api_keys: vec![flowgate_config::ApiKeySettings {
            name: "admin".to_owned(),
            sha256: Secret::new(sha256_hex(ADMIN)),
            permissions: Vec::new(),
            roles: vec!["operator".to_owned()],
        }],
        roles: BTreeMap::from([
            ("operator".to_owned(), vec!["*:*".to_owned()]),
            (
                "shop".to_owned(),
                vec!["start:shopping".to_owned(), "read:shopping".to_owned()],
            ),
            ("reader".to_owned(), vec!["read:*".to_owned()]),
        ]),
        jwt,
    };
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn rejected(env: &TestEnv, reason: &str) -> f64 {
    scrape(&env.http, &env.api_admin_url("/metrics"))
        .await
        .value(
            "flowgate_http_rejected_requests_total",
            &[("reason", reason)],
        )
        .unwrap_or_default()
}

#[tokio::test]
async fn tokens_signed_by_static_keys_get_the_permissions_of_their_roles() {
    let ed = Signer::ed25519(None);
    let hmac = Signer::hmac("shared-2026");
    let keys = vec![ed.static_key(), hmac.static_key()];
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| jwt_settings(s, |jwt| jwt.keys = keys))
        .start()
        .await;
    let forbidden_before = rejected(&env, "forbidden").await;

    // Role "shop": may start shopping, not order approval; sees its own workflow.
    let alice = bearer(&ed.token("alice", &["shop", "unknown-role"]));
    let alice = [("authorization", alice.as_str())];
    let started = json(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&shopping_start(&[("APPLE", 1)])),
            &alice,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let location = header(
        &post(
            &env,
            "/v1/workflows/shopping",
            Some(&shopping_start(&[("APPLE", 2)])),
            &alice,
        )
        .await,
        "location",
    );
    assert!(location.starts_with("/v1/workflows/"), "{location}");
    let id = started["workflow_id"].as_str().unwrap();
    json(
        get(&env, &format!("/v1/workflows/{id}"), &alice).await,
        StatusCode::OK,
    )
    .await;
    let refused = problem(
        post(
            &env,
            "/v1/workflows/order-approval",
            Some(&approval_start("ACME")),
            &alice,
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains("token subject \"alice\""), "{refused}");
    assert!(detail.contains("order-approval"), "{refused}");
    problem(
        post(&env, &format!("/v1/workflows/{id}/cancel"), None, &alice).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Role "reader" through an HMAC key picked by kid: reads everything, starts nothing.
    let bob = bearer(&hmac.token("bob", &["reader"]));
    let bob = [("authorization", bob.as_str())];
    json(get(&env, "/v1/workflows", &bob).await, StatusCode::OK).await;
    problem(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&shopping_start(&[("APPLE", 1)])),
            &bob,
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Roles as one space-separated string work too; no known role grants nothing.
    let spaced = ed.sign(&json!({
        "iss": ISSUER, "aud": ["other-audience"], "sub": "carol", "roles": "reader shop",
        "exp": now() + 60,
    }));
    json(
        get(
            &env,
            "/v1/workflows",
            &[("authorization", &bearer(&spaced))],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let nobody = bearer(&ed.token("dave", &[]));
    problem(
        get(&env, "/v1/workflows", &[("authorization", &nobody)]).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // API keys keep working beside tokens, with the permissions of their roles.
    let admin = bearer(ADMIN);
    json(
        post(
            &env,
            &format!("/v1/workflows/{id}/terminate"),
            Some(&json!({"reason": "test"})),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let after = rejected(&env, "forbidden").await;
    assert!(
        after - forbidden_before >= 4.0,
        "forbidden {forbidden_before} -> {after}"
    );
}

#[tokio::test]
async fn invalid_tokens_get_401_saying_what_is_wrong_and_never_echo_the_token() {
    let ed = Signer::ed25519(None);
    let stranger = Signer::ed25519(None);
    let keys = vec![ed.static_key()];
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| jwt_settings(s, |jwt| jwt.keys = keys))
        .start()
        .await;
    let unauthenticated_before = rejected(&env, "unauthenticated").await;
    let with = |patch: Value| {
        let mut c = claims("eve", &["reader"]);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    // Within the clock skew: still accepted.
    for accepted in [
        ed.sign(&with(json!({"exp": now() - 20}))),
        ed.sign(&with(json!({"nbf": now() + 20}))),
    ] {
        json(
            get(
                &env,
                "/v1/workflows",
                &[("authorization", &bearer(&accepted))],
            )
            .await,
            StatusCode::OK,
        )
        .await;
    }
    // The public key used as an HMAC secret: the algorithm-confusion attack.
    let confused = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = None;
        jsonwebtoken::encode(
            &header,
            &claims("eve", &["reader"]),
            &EncodingKey::from_secret(ed.public.as_str().unwrap().as_bytes()),
        )
        .unwrap()
    };
    let good = ed.token("eve", &["reader"]);
    let (head, rest) = good.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_payload = URL_SAFE_NO_PAD.encode(claims("eve", &["operator"]).to_string());
    let tampered = format!("{head}.{forged_payload}.{signature}");
    let cases = [
        (ed.sign(&with(json!({"exp": now() - 120}))), "expired"),
        (ed.sign(&with(json!({"nbf": now() + 120}))), "not valid yet"),
        (
            ed.sign(&with(json!({"iss": "https://evil.example/"}))),
            "issuer",
        ),
        (ed.sign(&with(json!({"aud": "someone-else"}))), "audience"),
        (ed.sign(&with(json!({"exp": null}))), "exp"),
        (ed.sign(&with(json!({"sub": null}))), "\"sub\""),
        (stranger.token("eve", &["reader"]), "signature"),
        (tampered, "signature"),
        (confused, "signing key is not known"),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmUifQ.".to_owned(), "not"),
    ];
    for (token, expected) in &cases {
        let response = get(&env, "/v1/workflows", &[("authorization", &bearer(token))]).await;
        assert!(
            header(&response, "www-authenticate").starts_with("Bearer"),
            "{expected}"
        );
        let body = problem(response, StatusCode::UNAUTHORIZED).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{expected}: {body}");
        assert!(!body.to_string().contains(token.as_str()), "{body}");
    }
    let after = rejected(&env, "unauthenticated").await;
    assert!(
        after - unauthenticated_before >= cases.len() as f64,
        "unauthenticated {unauthenticated_before} -> {after}"
    );
}

#[tokio::test]
async fn a_401_never_echoes_what_the_token_header_says() {
    let ed = Signer::ed25519(Some("known"));
    let keys = vec![ed.static_key()];
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| jwt_settings(s, |jwt| jwt.keys = keys))
        .start()
        .await;
    // Whatever an attacker puts in the header must not come back: it could be markup for a
    // console that renders problems, or text made to look like the API's own words.
    let planted = "<img src=x onerror=alert(1)> contact evil.example for a new key";
    let unknown_kid = Signer::ed25519(Some(planted)).token("eve", &["reader"]);
    let other_algorithm = {
        let mut header = Header::new(Algorithm::HS512);
        header.kid = Some(planted.to_owned());
        jsonwebtoken::encode(
            &header,
            &claims("eve", &["reader"]),
            &EncodingKey::from_secret(HMAC_SECRET.as_bytes()),
        )
        .unwrap()
    };
    for token in [unknown_kid, other_algorithm] {
        let body = problem(
            get(&env, "/v1/workflows", &[("authorization", &bearer(&token))]).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        let text = body.to_string();
        assert!(!text.contains("onerror"), "{body}");
        assert!(!text.contains("evil.example"), "{body}");
        assert!(!text.contains("HS512"), "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("signing key"),
            "still says what is wrong: {body}"
        );
    }
}

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
