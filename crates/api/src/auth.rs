//! Authentication (API keys, JWT bearer tokens) and per-workflow authorization (`[auth]`).
//!
//! [`Authenticator::principal`] turns the presented key or token into a [`Principal`] or a 401;
//! [`Principal::check`] answers 403 unless one of the principal's permissions covers what the
//! route does. Both run in `crate::access::Gate`, for the routes that declare a permission.
//!
//! Keys are never kept or compared in clear: the SHA-256 of the presented key is compared with
//! every configured hash in constant time (`subtle`), without stopping at the first match, and
//! neither the key nor its hash is logged or put into a problem. A bearer value shaped like a JWT
//! is verified as a token when `[auth.jwt]` is configured ([`jwt`]); tokens never reach logs or
//! problems either.

mod jwt;

use std::{collections::BTreeMap, sync::Arc};

use axum::http::{HeaderMap, header};
use flowgate_config::{Action, AuthSettings, Permission};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{access::Target, error::ApiError, metrics::ApiMetrics, state::AppState};

/// `X-API-Key`, the alternative to `Authorization: Bearer`.
pub(crate) const X_API_KEY: &str = "x-api-key";

/// The configured keys and token verifier. Built once at start-up.
pub(crate) struct Authenticator {
    keys: ApiKeys,
    tokens: Option<jwt::TokenVerifier>,
}

/// The configured API keys.
struct ApiKeys(Vec<Key>);

struct Key {
    digest: [u8; 32],
    principal: Principal,
}

/// Who made a request: the API key's name or the token's subject, and what it may do. Put into
/// the request's extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// The key's configured name, or the token's subject.
    pub name: Arc<str>,
    /// How it authenticated.
    pub kind: PrincipalKind,
    permissions: Arc<[Permission]>,
}

/// How a principal authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrincipalKind {
    /// A configured API key.
    ApiKey,
    /// A verified JWT bearer token.
    Token,
}

impl Principal {
    /// The rate-limit bucket of this principal (keys and token subjects never share one).
    pub(crate) fn bucket(&self) -> String {
        match self.kind {
            PrincipalKind::ApiKey => format!("key:{}", self.name),
            PrincipalKind::Token => format!("sub:{}", self.name),
        }
    }

    fn describe(&self) -> String {
        match self.kind {
            PrincipalKind::ApiKey => format!("API key {:?}", self.name),
            PrincipalKind::Token => format!("token subject {:?}", self.name),
        }
    }
}

impl Authenticator {
    /// The keys and token verifier of `[auth]`, or `None` when authentication is off. Settings
    /// are validated, so every hash, permission and static key parses. Starts the refresh of
    /// the token signing key set, if one is configured (needs a Tokio runtime).
    pub(crate) fn from_settings(auth: &AuthSettings, metrics: ApiMetrics) -> Option<Arc<Self>> {
        if !auth.enabled {
            return None;
        }
        let parse = |list: &[String]| -> Vec<Permission> {
            list.iter()
                .filter_map(|p| Permission::parse(p).ok())
                .collect()
        };
        let roles: Arc<BTreeMap<String, Arc<[Permission]>>> = Arc::new(
            auth.roles
                .iter()
                .map(|(name, list)| (name.clone(), parse(list).into()))
                .collect(),
        );
        let keys = ApiKeys::new(auth, &roles);
        let tokens = jwt::TokenVerifier::from_settings(&auth.jwt, roles, metrics);
        Some(Arc::new(Self { keys, tokens }))
    }

    /// The principal of a request's credentials, or the 401 (503 while token keys are
    /// unavailable) to answer.
    pub(crate) async fn principal(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let Some(credential) = presented(headers) else {
            return Err(ApiError::Unauthenticated(
                if self.tokens.is_some() {
                    "credentials are required: send Authorization: Bearer <token or API key> or X-API-Key: <key>"
                } else {
                    "an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>"
                }
                .to_owned(),
            ));
        };
        if let (Credential::Bearer(token), Some(tokens)) = (credential, &self.tokens)
            && jwt::TokenVerifier::looks_like_jwt(token)
        {
            return tokens.verify(token).await;
        }
        let (Credential::Bearer(key) | Credential::ApiKey(key)) = credential;
        self.keys
            .identify(key)
            .ok_or_else(|| ApiError::Unauthenticated("the API key is not valid".to_owned()))
    }
}

impl ApiKeys {
    /// The keys of `auth.api_keys`, each with its permissions and those of its roles.
    fn new(auth: &AuthSettings, roles: &BTreeMap<String, Arc<[Permission]>>) -> Self {
        let keys = auth
            .api_keys
            .iter()
            .filter_map(|key| {
                let digest = flowgate_config::parse_sha256_hex(key.sha256.expose()).ok()?;
                let mut permissions: Vec<Permission> = key
                    .permissions
                    .iter()
                    .filter_map(|p| Permission::parse(p).ok())
                    .collect();
                for role in &key.roles {
                    permissions.extend(roles.get(role).into_iter().flat_map(|p| p.iter().cloned()));
                }
                Some(Key {
                    digest,
                    principal: Principal {
                        name: key.name.trim().into(),
                        kind: PrincipalKind::ApiKey,
                        permissions: permissions.into(),
                    },
                })
            })
            .collect();
        Self(keys)
    }

    /// The principal whose hash matches `presented`. Every hash is compared, in constant time.
    fn identify(&self, presented: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.0 {
            if bool::from(key.digest.ct_eq(&digest)) && found.is_none() {
                found = Some(key.principal.clone());
            }
        }
        found
    }
}

/// What a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential<'a> {
    /// `Authorization: Bearer <value>`: an API key or a token.
    Bearer(&'a str),
    /// `X-API-Key: <key>`.
    ApiKey(&'a str),
}

/// `Authorization: Bearer <value>`, else `X-API-Key: <key>`.
fn presented(headers: &HeaderMap) -> Option<Credential<'_>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|k| !k.is_empty());
    if let Some(bearer) = bearer {
        return Some(Credential::Bearer(bearer));
    }
    headers
        .get(X_API_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(Credential::ApiKey)
}

impl Principal {
    /// Whether a permission covers `action` on the registered workflow `def`.
    pub(crate) fn may_act_on(
        &self,
        action: Action,
        def: &flowgate_workflows::registry::WorkflowDef,
    ) -> bool {
        self.may_any(action) || self.may(action, &[def.name, def.temporal_type])
    }

    fn may_any(&self, action: Action) -> bool {
        self.permissions.iter().any(|p| p.allows_any(action))
    }

    fn may(&self, action: Action, names: &[&str]) -> bool {
        self.permissions.iter().any(|p| p.allows(action, names))
    }

    pub(crate) fn forbidden(&self, action: Action, what: &str) -> ApiError {
        ApiError::Forbidden(format!(
            "{} has no permission to {action} {what}",
            self.describe()
        ))
    }

    /// Whether this principal may read workflows of Temporal type `workflow_type`.
    pub(crate) fn may_read_type(&self, workflow_type: &str) -> bool {
        if self.may_any(Action::Read) {
            return true;
        }
        let name = flowgate_workflows::registry::registry()
            .by_type(workflow_type)
            .map(|def| def.name)
            .unwrap_or_default();
        self.may(Action::Read, &[name, workflow_type])
    }

    /// Ok when a permission covers `action` on `target`. The type of an id-addressed workflow
    /// is looked up (one describe) only when the principal's permissions for `action` are
    /// restricted to some types.
    pub(crate) async fn check(
        &self,
        action: Action,
        target: Target,
        state: &AppState,
    ) -> Result<(), ApiError> {
        if self.may_any(action) {
            return Ok(());
        }
        match target {
            Target::Every => Err(self.forbidden(action, "workflows of every type")),
            Target::Named(name) => {
                let def = flowgate_workflows::registry::registry().get(&name);
                let (name, temporal_type) =
                    def.map_or((name.as_str(), ""), |def| (def.name, def.temporal_type));
                if self.may(action, &[name, temporal_type]) {
                    Ok(())
                } else {
                    Err(self.forbidden(action, &format!("workflows of type {name:?}")))
                }
            }
            Target::Id {
                workflow_id: id,
                run_id,
            } => {
                let what = format!("workflow {id:?}");
                if !self.permissions.iter().any(|p| p.covers(action)) {
                    return Err(self.forbidden(action, &what));
                }
                // Boxed: only keys limited by type get here, and the describe's future would
                // otherwise make every guarded request's future several KiB larger.
                let described = Box::pin(state.gateway.describe_run(&id, run_id.as_deref()));
                let workflow_type = match described.await {
                    Ok(execution) => execution.workflow_type,
                    // Whether it exists is for keys that may see it.
                    Err(ApiError::WorkflowNotFound(_)) => return Err(self.forbidden(action, &what)),
                    Err(other) => return Err(other),
                };
                let name = flowgate_workflows::registry::registry()
                    .by_type(&workflow_type)
                    .map(|def| def.name)
                    .unwrap_or_default();
                if self.may(action, &[name, &workflow_type]) {
                    Ok(())
                } else {
                    Err(self.forbidden(action, &what))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use flowgate_config::{ApiKeySettings, Secret};

    use super::*;

    fn keys() -> ApiKeys {
        let key = |name: &str, secret: &str| ApiKeySettings {
            name: name.to_owned(),
            sha256: Secret::new(
                Sha256::digest(secret.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
            ),
            permissions: vec!["read:*".to_owned()],
            roles: Vec::new(),
        };
        ApiKeys::new(
            &AuthSettings {
                enabled: true,
                api_keys: vec![key("old", "old-secret"), key("new", "new-secret")],
                ..AuthSettings::default()
            },
            &BTreeMap::new(),
        )
    }

    #[test]
    fn every_configured_key_is_recognised_and_nothing_else() {
        let keys = keys();
        assert_eq!(&*keys.identify("old-secret").unwrap().name, "old");
        assert_eq!(&*keys.identify("new-secret").unwrap().name, "new");
        assert!(keys.identify("other").is_none());
    }

    #[test]
    fn the_key_comes_from_bearer_or_x_api_key() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented(&headers), None);
        headers.insert(X_API_KEY, "k1".parse().unwrap());
        assert_eq!(presented(&headers), Some(Credential::ApiKey("k1")));
        headers.insert(header::AUTHORIZATION, "Bearer k2".parse().unwrap());
        assert_eq!(presented(&headers), Some(Credential::Bearer("k2")));
    }
}
