//! `[auth]`: API keys (stored as SHA-256 hashes), JWT bearer tokens (`[auth.jwt]`), roles and
//! permissions.
//!
//! A permission is `"<action>:<workflow>"`: the action is `start`, `read`, `message`,
//! `control` or `*`; the workflow is a registered route name (`shopping`), a Temporal workflow
//! type, or `*` for any. [`Permission::parse`] is the one parser, used by validation and the API.

use std::{collections::BTreeMap, fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Authentication of the HTTP API.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Require an API key on every route except health, readiness, `/docs` and `/openapi.json`.
    pub enabled: bool,
    /// The accepted keys; several may be valid at once (rotation).
    #[serde(default)]
    pub api_keys: Vec<ApiKeySettings>,
    /// Named sets of permissions, granted to API keys by `roles` and to tokens by the roles
    /// they carry (`auth.jwt.roles_claim`).
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
    /// JWT bearer tokens; verified when `jwks_url` or `keys` is set.
    #[serde(default)]
    pub jwt: JwtSettings,
}

/// JWT bearer tokens: where the signing keys come from and what a token must say.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// The issuer's JSON Web Key Set (`https://idp.example/.well-known/jwks.json`); fetched at
    /// start, refreshed every `jwks_refresh_interval` and when a token names an unknown key.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Accept a `jwks_url` over plain `http://`: for development against a local issuer only,
    /// since anyone on the path could then hand the API keys that sign any token.
    #[serde(default)]
    pub jwks_allow_http: bool,
    /// How often the key set is fetched again.
    #[serde(with = "humantime_serde")]
    pub jwks_refresh_interval: Duration,
    /// A token naming an unknown key (`kid`) fetches the key set again at most this often.
    #[serde(with = "humantime_serde")]
    pub jwks_min_refresh_interval: Duration,
    /// Bound on one fetch of the key set.
    #[serde(with = "humantime_serde")]
    pub jwks_timeout: Duration,
    /// Signing keys configured here instead of (or besides) a key set.
    #[serde(default)]
    pub keys: Vec<JwtKeySettings>,
    /// The accepted `iss`; required when tokens are verified.
    #[serde(default)]
    pub issuer: String,
    /// Accepted `aud` values (a token must name one); required when tokens are verified. In the
    /// environment: comma separated.
    #[serde(default, deserialize_with = "crate::settings::list_or_comma_separated")]
    pub audience: Vec<String>,
    /// Tolerated clock difference for `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub clock_skew: Duration,
    /// The claim naming the principal (logs, 403 answers, rate-limit buckets).
    pub subject_claim: String,
    /// The claim listing the token's roles: an array of strings or one space-separated string;
    /// dots reach into objects (`realm_access.roles`).
    pub roles_claim: String,
}

impl Default for JwtSettings {
    /// The values of `default.toml`.
    fn default() -> Self {
        Self {
            jwks_url: None,
            jwks_allow_http: false,
            jwks_refresh_interval: Duration::from_secs(300),
            jwks_min_refresh_interval: Duration::from_secs(30),
            jwks_timeout: Duration::from_secs(5),
            keys: Vec::new(),
            issuer: String::new(),
            audience: Vec::new(),
            clock_skew: Duration::from_secs(60),
            subject_claim: "sub".to_owned(),
            roles_claim: "roles".to_owned(),
        }
    }
}

impl JwtSettings {
    /// Whether tokens are verified at all: a key set or static keys are configured.
    pub fn is_configured(&self) -> bool {
        self.jwks_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
            || !self.keys.is_empty()
    }
}

/// One static token signing key: a public key in PEM, or an HMAC secret.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeySettings {
    /// The `kid` tokens signed with this key carry; unset = tried for tokens without `kid`.
    #[serde(default)]
    pub kid: Option<String>,
    /// `RS256` `RS384` `RS512` `PS256` `PS384` `PS512` `ES256` `ES384` `EdDSA` (with `pem`) or
    /// `HS256` `HS384` `HS512` (with `secret`). Tokens must use exactly this algorithm.
    pub algorithm: String,
    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`, or `RSA PUBLIC KEY`).
    #[serde(default)]
    pub pem: Option<String>,
    /// The shared secret of an HMAC algorithm; printed redacted.
    #[serde(default)]
    pub secret: Option<Secret>,
}

/// One accepted API key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// Who the key belongs to: named in logs, 403 answers and rate-limit buckets; unique.
    pub name: String,
    /// Lower- or upper-case hex of the SHA-256 of the key (`flowgate-api hash-key`); printed
    /// redacted.
    pub sha256: Secret,
    /// What the key may do: `"<action>:<workflow>"`, e.g. `"start:shopping"`, `"read:*"`, `"*:*"`.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Roles of `[auth.roles]` whose permissions the key also has.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl JwtKeySettings {
    /// The verification key and its algorithm; the error says what is wrong (never the secret).
    pub fn decoding_key(
        &self,
    ) -> Result<(jsonwebtoken::DecodingKey, jsonwebtoken::Algorithm), String> {
        use jsonwebtoken::{Algorithm as A, DecodingKey};
        let algorithm: A = self.algorithm.trim().parse().map_err(|_| {
            format!(
                "algorithm {:?} is not one of RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA HS256 HS384 HS512",
                self.algorithm
            )
        })?;
        let hmac = matches!(algorithm, A::HS256 | A::HS384 | A::HS512);
        let key = match (&self.pem, &self.secret, hmac) {
            (Some(_), Some(_), _) => return Err("set either pem or secret, not both".to_owned()),
            (None, Some(secret), true) if secret.expose().len() >= 32 => {
                DecodingKey::from_secret(secret.expose().as_bytes())
            }
            (None, Some(_), true) => {
                return Err("an HMAC secret must be at least 32 bytes long".to_owned());
            }
            (_, _, true) => return Err(format!("{algorithm:?} needs a secret, not a pem")),
            (Some(pem), None, false) => {
                let pem = pem.trim().as_bytes();
                match algorithm {
                    A::ES256 | A::ES384 => DecodingKey::from_ec_pem(pem),
                    A::EdDSA => DecodingKey::from_ed_pem(pem),
                    _ => DecodingKey::from_rsa_pem(pem),
                }
                .map_err(|e| format!("pem is not a {algorithm:?} public key: {e}"))?
            }
            (None, _, false) => return Err(format!("{algorithm:?} needs a public key in pem")),
        };
        Ok((key, algorithm))
    }
}

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start a workflow.
    Start,
    /// Describe, result, list, and the guide's status and result routes.
    Read,
    /// Signals, queries and updates.
    Message,
    /// Cancel and terminate.
    Control,
}

impl Action {
    /// The action's name in permissions.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Read => "read",
            Self::Message => "message",
            Self::Control => "control",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `"<action>:<workflow>"`; `None` stands for `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// The action, or any.
    pub action: Option<Action>,
    /// The workflow (route name or Temporal type), or any.
    pub workflow: Option<String>,
}

impl Permission {
    /// Parses `"start:shopping"`, `"read:*"`, `"*:*"`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (action, workflow) = text
            .split_once(':')
            .ok_or_else(|| format!("permission {text:?} is not \"<action>:<workflow or *>\""))?;
        let action = match action {
            "*" => None,
            "start" => Some(Action::Start),
            "read" => Some(Action::Read),
            "message" => Some(Action::Message),
            "control" => Some(Action::Control),
            other => {
                return Err(format!(
                    "permission {text:?} has unknown action {other:?} (start, read, message, control or *)"
                ));
            }
        };
        let workflow = match workflow.trim() {
            "" => {
                return Err(format!(
                    "permission {text:?} names no workflow (use * for any)"
                ));
            }
            "*" => None,
            name => Some(name.to_owned()),
        };
        Ok(Self { action, workflow })
    }

    /// Whether this permission covers `action` on any workflow.
    pub fn allows_any(&self, action: Action) -> bool {
        self.covers(action) && self.workflow.is_none()
    }

    /// Whether this permission covers `action` on a workflow known by any of `names`.
    pub fn allows(&self, action: Action, names: &[&str]) -> bool {
        self.covers(action) && self.workflow.as_deref().is_none_or(|w| names.contains(&w))
    }

    /// Whether this permission is about `action` at all.
    pub fn covers(&self, action: Action) -> bool {
        self.action.is_none_or(|a| a == action)
    }
}

/// The 32 bytes of a hex SHA-256, or what is wrong with it.
pub fn parse_sha256_hex(hex: &str) -> Result<[u8; 32], String> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return Err(format!(
            "sha256 must be 64 hex characters, got {}",
            hex.len()
        ));
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).map_err(|_| "sha256 is not hex".to_owned())?;
        out[i] = u8::from_str_radix(pair, 16).map_err(|_| "sha256 is not hex".to_owned())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_and_match() {
        let p = Permission::parse("start:shopping").unwrap();
        assert!(p.allows(Action::Start, &["shopping"]));
        assert!(!p.allows(Action::Start, &["order-approval"]));
        assert!(!p.allows(Action::Read, &["shopping"]));
        assert!(!p.allows_any(Action::Start));
        let all = Permission::parse("*:*").unwrap();
        assert!(all.allows_any(Action::Control));
        assert!(
            Permission::parse("delete:*")
                .unwrap_err()
                .contains("delete")
        );
        assert!(Permission::parse("read").is_err());
        assert!(Permission::parse("read:").is_err());
    }

    #[test]
    fn hashes_are_64_hex_characters() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_sha256_hex(&hex).unwrap(), [0xab; 32]);
        assert!(parse_sha256_hex("abc").is_err());
        assert!(parse_sha256_hex(&"zz".repeat(32)).is_err());
    }
}
