//! JWT bearer tokens (`[auth.jwt]`): signature by a known key with that key's algorithm, then
//! `iss`, `aud`, `exp` and `nbf` (within `clock_skew`); the principal is the subject claim and its
//! permissions are those of the roles in the roles claim.
//!
//! Keys come from `[[auth.jwt.keys]]` and from the key set at `jwks_url`, which is fetched at
//! start, every `jwks_refresh_interval`, and when a token names a `kid` not in it (at most every
//! `jwks_min_refresh_interval`), so an issuer's key rotation needs no restart. A fetch that fails
//! keeps the keys already known. Fetches go to exactly `jwks_url` (https unless
//! `jwks_allow_http`; redirects are not followed) and read at most [`MAX_KEY_SET_BYTES`].

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock, Weak},
    time::{Duration, Instant},
};

use flowgate_config::{JwtSettings, Permission};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse},
};
use serde_json::Value;

use super::{Principal, PrincipalKind};
use crate::{error::ApiError, metrics::ApiMetrics};

/// Largest key set body accepted (real ones are a few KiB); a larger one is a failed fetch, so an
/// issuer (or whoever answers for it) cannot make the API hold an unbounded body in memory.
const MAX_KEY_SET_BYTES: usize = 1024 * 1024;

/// Verifies tokens. Built once at start-up; the key set refreshes itself.
pub(super) struct TokenVerifier {
    static_keys: Vec<VerifyKey>,
    jwks: Option<Arc<KeySet>>,
    issuer: String,
    audience: Vec<String>,
    leeway: u64,
    subject_claim: String,
    roles_claim: Vec<String>,
    roles: Arc<BTreeMap<String, Arc<[Permission]>>>,
}

/// One verification key and the algorithms tokens signed with it may use.
struct VerifyKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// The fetched key set: `None` until the first successful fetch.
struct KeySet {
    url: String,
    client: reqwest::Client,
    keys: RwLock<Option<Arc<[VerifyKey]>>>,
    /// When the last fetch started; serialises fetches (one at a time).
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
    metrics: ApiMetrics,
}

impl TokenVerifier {
    /// The verifier of `[auth.jwt]`, or `None` when no keys are configured. Settings are
    /// validated, so every static key parses. Starts the key set's refresh task (which ends
    /// when the verifier is dropped).
    pub(super) fn from_settings(
        jwt: &JwtSettings,
        roles: Arc<BTreeMap<String, Arc<[Permission]>>>,
        metrics: ApiMetrics,
    ) -> Option<Self> {
        if !jwt.is_configured() {
            return None;
        }
        let static_keys = jwt
            .keys
            .iter()
            .filter_map(|k| {
                let (key, algorithm) = k.decoding_key().ok()?;
                Some(VerifyKey {
                    kid: k.kid.clone(),
                    algorithms: vec![algorithm],
                    key,
                })
            })
            .collect();
        let jwks = jwt
            .jwks_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|url| {
                let set = Arc::new(KeySet {
                    url: url.to_owned(),
                    client: key_set_client(jwt),
                    keys: RwLock::new(None),
                    last_fetch: tokio::sync::Mutex::new(None),
                    min_refresh: jwt.jwks_min_refresh_interval,
                    metrics,
                });
                tokio::spawn(refresh_periodically(
                    Arc::downgrade(&set),
                    jwt.jwks_refresh_interval,
                    jwt.jwks_min_refresh_interval.max(Duration::from_secs(1)),
                ));
                set
            });
        Some(Self {
            static_keys,
            jwks,
            issuer: jwt.issuer.trim().to_owned(),
            audience: jwt.audience.iter().map(|a| a.trim().to_owned()).collect(),
            leeway: jwt.clock_skew.as_secs(),
            subject_claim: jwt.subject_claim.clone(),
            roles_claim: jwt.roles_claim.split('.').map(str::to_owned).collect(),
            roles,
        })
    }

    /// Whether `token` is shaped like a JWT (three base64url parts with a JSON header), as
    /// opposed to an API key.
    pub(super) fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3 && jsonwebtoken::decode_header(token).is_ok()
    }

    /// The principal of a valid token; 401 for an invalid one, 503 while no key set could be
    /// fetched yet.
    pub(super) async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("the bearer token is not a well-formed JWT"))?;
        let mut fetched = self.fetched_keys();
        let mut candidates = self.candidates(&header, fetched.as_deref());
        if candidates.is_empty()
            && let Some(set) = &self.jwks
        {
            // A kid the set does not have yet (the issuer rotated keys), or no set yet.
            set.refresh_if_due().await;
            fetched = self.fetched_keys();
            candidates = self.candidates(&header, fetched.as_deref());
            if candidates.is_empty() && fetched.is_none() && self.static_keys.is_empty() {
                return Err(ApiError::NotReady(
                    "cannot verify tokens: the signing key set (auth.jwt.jwks_url) could not be fetched"
                        .to_owned(),
                ));
            }
        }
        if candidates.is_empty() {
            // The header is the caller's text: it goes to the log, never into the answer.
            tracing::debug!(kid = ?header.kid, alg = ?header.alg, "no known signing key for the token");
            return Err(invalid(
                "the token's signing key is not known for the algorithm it names",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let mut last = None;
        for key in candidates {
            match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
                Ok(data) => return self.principal(&data.claims),
                Err(e) => {
                    // A claim error means the signature was good: it is the one to report.
                    let signature = matches!(
                        e.kind(),
                        ErrorKind::InvalidSignature
                            | ErrorKind::InvalidEcdsaKey
                            | ErrorKind::InvalidRsaKey(_)
                            | ErrorKind::InvalidKeyFormat
                            | ErrorKind::InvalidAlgorithm
                    );
                    if !signature {
                        return Err(invalid(describe(e.kind())));
                    }
                    last = Some(e);
                }
            }
        }
        Err(invalid(
            last.map_or("the token is not valid", |e| describe(e.kind())),
        ))
    }

    fn fetched_keys(&self) -> Option<Arc<[VerifyKey]>> {
        self.jwks.as_ref().and_then(|set| {
            set.keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
    }

    /// Keys that may have signed a token with this header: the same `kid` (any key when the
    /// token has none) and an algorithm the key allows.
    fn candidates<'a>(
        &'a self,
        header: &jsonwebtoken::Header,
        fetched: Option<&'a [VerifyKey]>,
    ) -> Vec<&'a VerifyKey> {
        self.static_keys
            .iter()
            .chain(fetched.into_iter().flatten())
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .filter(|k| k.algorithms.contains(&header.alg))
            .collect()
    }

    /// The verified claims as a principal: its subject and the permissions of its roles.
    fn principal(&self, claims: &Value) -> Result<Principal, ApiError> {
        let subject = claims
            .get(&self.subject_claim)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "the token has no {:?} claim naming its subject",
                    self.subject_claim
                ))
            })?;
        let mut permissions = Vec::new();
        for role in roles_of(claims, &self.roles_claim) {
            if let Some(granted) = self.roles.get(&role) {
                permissions.extend(granted.iter().cloned());
            }
        }
        Ok(Principal {
            name: subject.into(),
            kind: PrincipalKind::Token,
            permissions: permissions.into(),
        })
    }
}

/// The roles at `path` in the claims: an array of strings or one space-separated string.
fn roles_of(claims: &Value, path: &[String]) -> Vec<String> {
    let mut value = claims;
    for part in path {
        match value.get(part) {
            Some(inner) => value = inner,
            None => return Vec::new(),
        }
    }
    match value {
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::Unauthenticated(detail.into())
}

/// What is wrong with a token, for the 401's detail: fixed sentences, nothing the token says.
fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
        ErrorKind::InvalidAudience => "the token's audience is not accepted",
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => "the token has no exp claim",
            "iss" => "the token has no iss claim",
            "aud" => "the token has no aud claim",
            _ => "the token lacks a required claim",
        },
        ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted for its key",
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => "the token's signature is not valid",
        _ => "the token is not valid",
    }
}

impl KeySet {
    /// Fetches the set unless a fetch started less than `min_refresh` ago (then waits for it).
    async fn refresh_if_due(&self) {
        self.fetch_unless_fetched_within(self.min_refresh).await;
    }

    /// Fetches the set unless a fetch started within `recent` (one fetch at a time); whether
    /// the keys are current: the fetch succeeded, or a recent one was left alone.
    async fn fetch_unless_fetched_within(&self, recent: Duration) -> bool {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < recent) {
            return true;
        }
        *last = Some(Instant::now());
        self.fetch().await
    }

    /// One fetch; on success the keys replace the known ones. Returns whether it succeeded.
    async fn fetch(&self) -> bool {
        match self.download().await {
            Ok(keys) => {
                tracing::debug!(url = %self.url, keys = keys.len(), "token signing keys fetched");
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(keys.into());
                self.metrics.jwks_fetch(true);
                true
            }
            Err(problem) => {
                tracing::warn!(url = %self.url, %problem, "cannot fetch the token signing keys; keeping the known ones");
                self.metrics.jwks_fetch(false);
                false
            }
        }
    }

    async fn download(&self) -> Result<Vec<VerifyKey>, String> {
        let mut response = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if response.status().is_redirection() {
            return Err(format!(
                "answered {} (redirects are not followed: set auth.jwt.jwks_url to the final URL)",
                response.status()
            ));
        }
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let too_large = || format!("the key set is larger than {MAX_KEY_SET_BYTES} bytes");
        if response
            .content_length()
            .is_some_and(|n| n > MAX_KEY_SET_BYTES as u64)
        {
            return Err(too_large());
        }
        // Read chunk by chunk: a body without (or with a false) Content-Length stops at the bound.
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?
        {
            if bytes.len() + chunk.len() > MAX_KEY_SET_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
        let keys = parse_key_set(&body);
        if keys.is_empty() {
            return Err("the key set has no usable signing keys".to_owned());
        }
        Ok(keys)
    }
}

/// The usable signing keys of a JWKS document; encryption keys, symmetric keys and keys this
/// build cannot use are skipped.
fn parse_key_set(body: &Value) -> Vec<VerifyKey> {
    let Some(keys) = body.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|value| {
            let jwk: Jwk = serde_json::from_value(value.clone()).ok()?;
            if matches!(
                jwk.common.public_key_use,
                Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
            ) {
                return None;
            }
            let algorithms = match &jwk.common.key_algorithm {
                Some(declared) => vec![
                    serde_json::to_value(declared)
                        .ok()
                        .and_then(|v| v.as_str()?.parse::<Algorithm>().ok())?,
                ],
                None => match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => vec![
                        Algorithm::RS256,
                        Algorithm::RS384,
                        Algorithm::RS512,
                        Algorithm::PS256,
                        Algorithm::PS384,
                        Algorithm::PS512,
                    ],
                    AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                        EllipticCurve::P256 => vec![Algorithm::ES256],
                        EllipticCurve::P384 => vec![Algorithm::ES384],
                        _ => return None,
                    },
                    AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
                    AlgorithmParameters::OctetKey(_) => return None,
                },
            };
            // Never HMAC from a published set: its "key" would be public.
            if matches!(&jwk.algorithm, AlgorithmParameters::OctetKey(_))
                || algorithms
                    .iter()
                    .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            {
                return None;
            }
            Some(VerifyKey {
                kid: jwk.common.key_id.clone(),
                algorithms,
                key: DecodingKey::from_jwk(&jwk).ok()?,
            })
        })
        .collect()
}

/// The client that fetches the key set: bounded by `jwks_timeout`, never following a redirect
/// (the configured URL is the one trusted, not wherever it points), https only unless
/// `jwks_allow_http`.
fn key_set_client(jwt: &JwtSettings) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(jwt.jwks_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!jwt.jwks_allow_http)
        .build()
        // As `reqwest::Client::new()`: fails only when the TLS backend cannot start at all.
        .expect("the TLS backend initialises")
}

/// Fetches the set at start and every `interval` (after a failure, every `retry`), until the
/// verifier is dropped.
async fn refresh_periodically(set: Weak<KeySet>, interval: Duration, retry: Duration) {
    loop {
        let Some(strong) = set.upgrade() else { return };
        // A token naming an unknown kid may just have fetched the set.
        let ok = strong
            .fetch_unless_fetched_within(strong.min_refresh.min(interval))
            .await;
        drop(strong);
        tokio::time::sleep(if ok { interval } else { retry.min(interval) }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_come_from_arrays_strings_and_nested_claims() {
        let claims = serde_json::json!({
            "roles": ["shop", "reader"],
            "scope": "read start",
            "realm_access": {"roles": ["operator"]},
            "n": 5
        });
        let path = |p: &str| p.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(roles_of(&claims, &path("roles")), ["shop", "reader"]);
        assert_eq!(roles_of(&claims, &path("scope")), ["read", "start"]);
        assert_eq!(roles_of(&claims, &path("realm_access.roles")), ["operator"]);
        assert!(roles_of(&claims, &path("n")).is_empty());
        assert!(roles_of(&claims, &path("missing.roles")).is_empty());
    }

    #[test]
    fn key_sets_keep_signing_keys_only() {
        let set = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "weird", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
            {"kty": "unknown", "kid": "x"}
        ]});
        let keys = parse_key_set(&set);
        assert_eq!(keys.len(), 1, "only the Ed25519 signing key is usable");
        assert_eq!(keys[0].kid.as_deref(), Some("ed"));
        assert_eq!(keys[0].algorithms, [Algorithm::EdDSA]);
        assert!(parse_key_set(&serde_json::json!({"nokeys": []})).is_empty());
    }

    /// A verifier of HS256 tokens signed with a static secret, as `[[auth.jwt.keys]]` configures.
    fn hmac_verifier(secret: &str) -> TokenVerifier {
        let settings: flowgate_config::Settings =
            flowgate_config::load_from(None, &Default::default())
                .expect("the embedded defaults are valid");
        let mut jwt = settings.auth.jwt.clone();
        jwt.issuer = "https://issuer.example".to_owned();
        jwt.audience = vec!["flowgate".to_owned()];
        jwt.keys = vec![flowgate_config::JwtKeySettings {
            kid: Some("k1".to_owned()),
            algorithm: "HS256".to_owned(),
            pem: None,
            secret: Some(flowgate_config::Secret::new(secret.to_owned())),
        }];
        let resolved = flowgate_temporal::resolve(&settings.temporal).unwrap();
        let link = flowgate_temporal::TemporalLink::start(resolved, &settings.temporal);
        let metrics = ApiMetrics::new(link).unwrap();
        TokenVerifier::from_settings(&jwt, Arc::default(), metrics).expect("configured")
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn any_token_header_is_refused_without_panicking_or_echoing_it() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let verifier =
            runtime.block_on(async { hmac_verifier("s3cret-s3cret-s3cret-s3cret-s3cret!") });
        let mut runner = proptest::test_runner::TestRunner::default();
        let strategy = (
            "(HS256|HS384|RS256|ES256|EdDSA|none|[A-Za-z0-9]{1,8})",
            proptest::option::of("[ -~]{0,24}"),
            "[ -~]{0,16}",
            proptest::collection::vec(proptest::num::u8::ANY, 0..48),
        );
        runner
            .run(&strategy, |(alg, kid, typ, signature)| {
                let mut header = serde_json::json!({ "alg": alg, "typ": typ });
                if let Some(kid) = &kid {
                    header["kid"] = serde_json::json!(kid);
                }
                let claims = serde_json::json!({"sub": "x", "iss": "https://issuer.example", "aud": "flowgate", "exp": 4_000_000_000u64});
                let token = format!(
                    "{}.{}.{}",
                    b64(header.to_string().as_bytes()),
                    b64(claims.to_string().as_bytes()),
                    b64(&signature)
                );
                let result = runtime.block_on(verifier.verify(&token));
                let Err(ApiError::Unauthenticated(detail)) = result else {
                    return Err(proptest::test_runner::TestCaseError::fail(format!(
                        "{token}: {result:?}"
                    )));
                };
                for echoed in kid.iter().chain([&alg, &typ]) {
                    if echoed.len() >= 4 {
                        proptest::prop_assert!(!detail.contains(echoed.as_str()), "{} in {}", echoed, detail);
                    }
                }
                Ok(())
            })
            .unwrap();
    }
}
