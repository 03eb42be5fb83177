//! API-key authentication and per-workflow authorization (`[auth]`).
//!
//! Two middlewares, layered by `startup` around the rate limiter:
//! [`authenticate`] (outside it) turns the presented key into a [`Principal`] or answers 401, so
//! rate limits count per principal; [`authorize`] (inside it, so the describe calls it may make
//! are limited too) answers 403 unless one of the principal's permissions covers what the route
//! does (see [`route::required`]). Health, readiness, `/docs` and `/openapi.json` stay open.
//!
//! Keys are never kept or compared in clear: the SHA-256 of the presented key is compared with
//! every configured hash in constant time (`subtle`), without stopping at the first match, and
//! neither the key nor its hash is logged or put into a problem.

mod route;

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use flowgate_config::{Action, AuthSettings, Permission};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{error::ApiError, state::AppState};

pub use route::Target;

/// `X-API-Key`, the alternative to `Authorization: Bearer`.
pub const X_API_KEY: &str = "x-api-key";

/// The configured keys. Built once at start-up.
pub struct ApiKeys {
    keys: Vec<Key>,
}

struct Key {
    digest: [u8; 32],
    principal: Principal,
}

/// Who made a request: the name of the key it carried and what that key may do. Put into the
/// request's extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's configured name.
    pub name: Arc<str>,
    permissions: Arc<[Permission]>,
}

impl ApiKeys {
    /// The keys of `[auth]`, or `None` when authentication is off. Settings are validated, so
    /// every hash and permission parses.
    pub fn from_settings(auth: &AuthSettings) -> Option<Arc<Self>> {
        if !auth.enabled {
            return None;
        }
        let keys = auth
            .api_keys
            .iter()
            .filter_map(|key| {
                let digest = flowgate_config::parse_sha256_hex(key.sha256.expose()).ok()?;
                let permissions = key
                    .permissions
                    .iter()
                    .filter_map(|p| Permission::parse(p).ok())
                    .collect();
                Some(Key {
                    digest,
                    principal: Principal {
                        name: key.name.trim().into(),
                        permissions,
                    },
                })
            })
            .collect();
        Some(Arc::new(Self { keys }))
    }

    /// The principal whose hash matches `presented`. Every hash is compared, in constant time.
    fn identify(&self, presented: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.digest.ct_eq(&digest)) && found.is_none() {
                found = Some(key.principal.clone());
            }
        }
        found
    }
}

/// The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    bearer
        .or_else(|| headers.get(X_API_KEY).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// Middleware: 401 unless the request carries a configured key (open routes excepted); the
/// [`Principal`] goes into the request's extensions.
pub async fn authenticate(
    State(keys): State<Arc<ApiKeys>>,
    mut request: Request,
    next: Next,
) -> Response {
    if crate::protect::is_exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let principal = match presented_key(request.headers()) {
        None => {
            return ApiError::Unauthenticated(
                "an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>"
                    .to_owned(),
            )
            .into_response();
        }
        Some(key) => match keys.identify(key) {
            Some(principal) => principal,
            None => {
                return ApiError::Unauthenticated("the API key is not valid".to_owned())
                    .into_response();
            }
        },
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Middleware: 403 unless the principal may do what the route does.
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(principal) = request.extensions().get::<Principal>().cloned() else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let required = match route::required(&mut parts).await {
        Ok(required) => required,
        Err(error) => return error.into_response(),
    };
    if let Some((action, target)) = required
        && let Err(error) = principal.check(action, target, &state).await
    {
        return error.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

impl Principal {
    fn may_any(&self, action: Action) -> bool {
        self.permissions.iter().any(|p| p.allows_any(action))
    }

    fn may(&self, action: Action, names: &[&str]) -> bool {
        self.permissions.iter().any(|p| p.allows(action, names))
    }

    fn forbidden(&self, action: Action, what: &str) -> ApiError {
        ApiError::Forbidden(format!(
            "API key {:?} has no permission to {action} {what}",
            self.name
        ))
    }

    /// Ok when a permission covers `action` on `target`. The type of an id-addressed workflow
    /// is looked up (one describe) only when the principal's permissions for `action` are
    /// restricted to some types.
    async fn check(
        &self,
        action: Action,
        target: Target,
        state: &AppState,
    ) -> Result<(), ApiError> {
        if self.may_any(action) {
            return Ok(());
        }
        match target {
            Target::All => Err(self.forbidden(action, "workflows of every type")),
            Target::Named(name) => {
                let temporal_type = flowgate_workflows::registry::find(&name)
                    .map(|def| def.temporal_type)
                    .unwrap_or_default();
                if self.may(action, &[&name, temporal_type]) {
                    Ok(())
                } else {
                    Err(self.forbidden(action, &format!("workflows of type {name:?}")))
                }
            }
            Target::Workflow(id) => {
                let what = format!("workflow {id:?}");
                if !self.permissions.iter().any(|p| p.covers(action)) {
                    return Err(self.forbidden(action, &what));
                }
                let workflow_type = match state.gateway.describe_execution(&id).await {
                    Ok(execution) => execution.workflow_type,
                    // Whether it exists is for keys that may see it.
                    Err(ApiError::WorkflowNotFound(_)) => return Err(self.forbidden(action, &what)),
                    Err(other) => return Err(other),
                };
                let name = flowgate_workflows::registry::registry()
                    .into_iter()
                    .find(|def| def.temporal_type == workflow_type)
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

    fn keys() -> Arc<ApiKeys> {
        let key = |name: &str, secret: &str| ApiKeySettings {
            name: name.to_owned(),
            sha256: Secret::new(
                Sha256::digest(secret.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
            ),
            permissions: vec!["read:*".to_owned()],
        };
        ApiKeys::from_settings(&AuthSettings {
            enabled: true,
            api_keys: vec![key("old", "old-secret"), key("new", "new-secret")],
        })
        .unwrap()
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
        assert_eq!(presented_key(&headers), None);
        headers.insert(X_API_KEY, "k1".parse().unwrap());
        assert_eq!(presented_key(&headers), Some("k1"));
        headers.insert(header::AUTHORIZATION, "Bearer k2".parse().unwrap());
        assert_eq!(presented_key(&headers), Some("k2"));
    }
}
