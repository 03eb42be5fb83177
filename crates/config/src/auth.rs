//! `[auth]`: API keys (stored as SHA-256 hashes) and their permissions.
//!
//! A permission is `"<action>:<workflow>"`: the action is `start`, `read`, `message`,
//! `control` or `*`; the workflow is a registered route name (`shopping`), a Temporal workflow
//! type, or `*` for any. [`Permission::parse`] is the one parser, used by validation and the API.

use std::fmt;

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
