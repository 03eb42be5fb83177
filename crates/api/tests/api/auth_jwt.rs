//! JWT bearer tokens (`[auth.jwt]`) with static keys (Ed25519 PEM, HMAC): issuer, audience,
//! expiry and clock skew; permissions from roles; 401/403 problems and their metrics, which echo
//! nothing of the token. Keys are generated per test run. Key sets fetched from a URL:
//! `auth_jwks.rs`.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
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
pub(crate) struct Signer {
    kid: Option<String>,
    algorithm: Algorithm,
    encoding: EncodingKey,
    /// Ed25519: the public key as PEM; EC: the key as a JWK.
    pub(crate) public: Value,
}

impl Signer {
    pub(crate) fn ed25519(kid: Option<&str>) -> Self {
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

    pub(crate) fn es256(kid: &str) -> Self {
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
    pub(crate) fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.sign(&claims(sub, roles))
    }
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

pub(crate) fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": roles,
        "iat": now(), "exp": now() + 300,
    })
}

pub(crate) fn jwt_settings(s: &mut Settings, adjust: impl FnOnce(&mut JwtSettings)) {
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

pub(crate) fn bearer(token: &str) -> String {
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
