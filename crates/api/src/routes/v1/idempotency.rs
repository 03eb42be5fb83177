//! `Idempotency-Key`: one key, one run.
//!
//! A key is the principal's own: it is scoped to the authenticated principal (API key name or
//! token subject; with authentication off every client is one principal) and the workflow name,
//! so two principals using the same key get two independent runs and learn nothing of each
//! other's. A start with a key gets a workflow id derived from that scope and the key (the body
//! may not name one), a Temporal request id derived from them too (the server deduplicates a
//! retried request id), and Temporal's `USE_EXISTING` conflict and `REJECT_DUPLICATE` reuse
//! policies, so a second request can only find the first run, running or closed. The run's memo
//! records the hashes of the key and of the normalised request, and a per-request nonce: a later
//! request compares them to tell a replay (same body) from a misuse (different body, 422), and
//! its own run from one created by an earlier request (Temporal reports a deduplicated request
//! id as `started`).

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::start::{IdConflictPolicy, IdReusePolicy, StartIn};
use crate::{
    auth::Principal,
    error::{ApiError, FieldError},
    gateway::StartSpec,
    state::AppState,
};

/// Memo field holding the idempotency record (hidden from `GET /v1/workflows/{id}`).
pub(super) const MEMO_KEY: &str = "_flowgate_idempotency";

/// Longest accepted key.
const MAX_KEY_LEN: usize = 255;

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
pub(crate) fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = |problem: &str| ApiError::InvalidHeader {
        name: "Idempotency-Key",
        problem: problem.to_owned(),
    };
    let key = value
        .to_str()
        .map_err(|_| invalid("must be visible ASCII"))?
        .trim_matches(' ');
    // `to_str` lets tabs through; a key is visible characters and inner spaces only.
    if !key.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(invalid("must be visible ASCII"));
    }
    if key.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(invalid("must be at most 255 characters"));
    }
    Ok(Some(key.to_owned()))
}

/// What a keyed request leaves in (and compares with) its run's memo.
#[derive(Debug, Clone)]
pub(super) struct Idempotency {
    scope_key: [u8; 32],
    key_sha256: String,
    request_sha256: String,
    attempt: String,
}

/// How a run found under a key relates to this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// This request created it.
    Created,
    /// An earlier request with the same key and body created it.
    Replayed,
    /// An earlier request with the same key and another body created it.
    DifferentRequest,
    /// It was not created under this key at all.
    Foreign,
}

impl Idempotency {
    /// The record of a request with `key` to `scope` (e.g. the workflow name) whose normalised
    /// content is `request`.
    pub(super) fn new(scope: &str, key: &str, request: &Value) -> Self {
        let scope_key: [u8; 32] = Sha256::digest(format!("{scope}\0{key}")).into();
        let request = serde_json::to_vec(&canonical(request)).unwrap_or_default();
        Self {
            scope_key,
            key_sha256: hex(&scope_key),
            request_sha256: hex(&Sha256::digest(&request)),
            attempt: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// A stable UUID for `purpose` under this key (workflow id, request id, update id).
    pub(super) fn derived_id(&self, purpose: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(purpose.as_bytes());
        hasher.update([0]);
        hasher.update(self.scope_key);
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A stable UUID for `purpose` under this key and this request's content: the same key with
    /// other content gives another id.
    pub(super) fn derived_request_id(&self, purpose: &str) -> String {
        self.derived_id(&format!("{purpose}\0{}", self.request_sha256))
    }

    /// SHA-256 (hex) of the scoped key.
    pub(super) fn key_hash(&self) -> &str {
        &self.key_sha256
    }

    /// SHA-256 (hex) of `purpose` and this request's content: what a later request under the
    /// same key must match to be a retry.
    pub(super) fn request_hash(&self, purpose: &str) -> String {
        hex(&Sha256::digest(format!(
            "{purpose}\0{}",
            self.request_sha256
        )))
    }

    /// The memo value recording this request.
    pub(super) fn record(&self) -> Value {
        json!({
            "key_sha256": self.key_sha256,
            "request_sha256": self.request_sha256,
            "attempt": self.attempt,
        })
    }

    /// How the run whose memo is `memo` relates to this request.
    pub(super) fn judge(&self, memo: &BTreeMap<String, Value>) -> Verdict {
        let Some(record) = memo.get(MEMO_KEY) else {
            return Verdict::Foreign;
        };
        if record["key_sha256"] != self.key_sha256.as_str() {
            Verdict::Foreign
        } else if record["request_sha256"] != self.request_sha256.as_str() {
            Verdict::DifferentRequest
        } else if record["attempt"] == self.attempt.as_str() {
            Verdict::Created
        } else {
            Verdict::Replayed
        }
    }
}

/// The scope of a key sent to `name` (a workflow name, or a workflow id for messages) by
/// `principal`.
pub(super) fn scope(principal: Option<&Principal>, name: &str) -> String {
    let who = principal.map_or_else(|| "anonymous".to_owned(), Principal::bucket);
    format!("{who}\0{name}")
}

/// With a key, the workflow id and the policies are the key's: one run per key, running or
/// closed.
pub(super) fn check_keyed_policies(body: &StartIn) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if body.workflow_id.is_some() {
        errors.push(FieldError::new(
            "/workflow_id",
            "with an Idempotency-Key the key chooses the workflow id; leave it out, or send no key (a chosen id is refused while taken, see id_conflict_policy)",
        ));
    }
    if body
        .id_reuse_policy
        .is_some_and(|p| p != IdReusePolicy::RejectDuplicate)
    {
        errors.push(FieldError::new(
            "/id_reuse_policy",
            "with an Idempotency-Key it is reject_duplicate; leave it out",
        ));
    }
    if body
        .id_conflict_policy
        .is_some_and(|p| p != IdConflictPolicy::UseExisting)
    {
        errors.push(FieldError::new(
            "/id_conflict_policy",
            "with an Idempotency-Key it is use_existing; leave it out",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Starts `spec` under `idempotency`: the run id, and whether an earlier request created it.
pub(super) async fn start_once(
    state: &AppState,
    spec: &StartSpec,
    idempotency: &Idempotency,
) -> Result<(String, bool), ApiError> {
    let found = match state.gateway.start_execution(spec).await {
        Ok(run) => Some(run.run_id),
        // Closed under the reject-duplicate policy: the run is the id's latest.
        Err(ApiError::WorkflowAlreadyExists(_)) => None,
        Err(other) => return Err(other),
    };
    let execution = state.gateway.describe_execution(&spec.workflow_id).await?;
    let run_id = found.unwrap_or_else(|| execution.run_id.clone());
    match idempotency.judge(&execution.memo) {
        Verdict::Created => Ok((run_id, false)),
        Verdict::Replayed => Ok((run_id, true)),
        Verdict::DifferentRequest => Err(ApiError::IdempotencyKeyReused(spec.workflow_id.clone())),
        Verdict::Foreign => Err(ApiError::WorkflowAlreadyExists(spec.workflow_id.clone())),
    }
}

/// `value` with every object's keys sorted, so equal JSON hashes equally whatever the order.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<_, _> =
                map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_requests_hash_equally_whatever_their_key_order() {
        let a = Idempotency::new("shopping", "k1", &json!({"a": 1, "b": {"x": 1, "y": 2}}));
        let b = Idempotency::new("shopping", "k1", &json!({"b": {"y": 2, "x": 1}, "a": 1}));
        assert_eq!(a.request_sha256, b.request_sha256);
        let mut memo = BTreeMap::new();
        memo.insert(MEMO_KEY.to_owned(), a.record());
        assert_eq!(a.judge(&memo), Verdict::Created);
        assert_eq!(b.judge(&memo), Verdict::Replayed);
    }

    #[test]
    fn another_body_or_key_is_told_apart() {
        let first = Idempotency::new("shopping", "k1", &json!({"a": 1}));
        let mut memo = BTreeMap::new();
        memo.insert(MEMO_KEY.to_owned(), first.record());
        let other_body = Idempotency::new("shopping", "k1", &json!({"a": 2}));
        assert_eq!(other_body.judge(&memo), Verdict::DifferentRequest);
        let other_key = Idempotency::new("shopping", "k2", &json!({"a": 1}));
        assert_eq!(other_key.judge(&memo), Verdict::Foreign);
        assert_eq!(first.judge(&BTreeMap::new()), Verdict::Foreign);
    }

    #[test]
    fn derived_ids_are_stable_per_key_and_purpose() {
        let a = Idempotency::new("shopping", "k1", &json!({}));
        let b = Idempotency::new("shopping", "k1", &json!({"other": true}));
        assert_eq!(a.derived_id("workflow"), b.derived_id("workflow"));
        assert_ne!(a.derived_id("workflow"), a.derived_id("request"));
        let other_scope = Idempotency::new("order-approval", "k1", &json!({}));
        assert_ne!(a.derived_id("workflow"), other_scope.derived_id("workflow"));
    }

    proptest::proptest! {
        #[test]
        fn accepted_keys_are_what_the_documentation_promises(text in "[\\t -~\\x7f-\\u{ff}]{0,300}") {
            let Ok(value) = axum::http::HeaderValue::from_bytes(text.as_bytes()) else {
                return Ok(());
            };
            let mut headers = HeaderMap::new();
            headers.insert("idempotency-key", value);
            if let Ok(Some(key)) = key(&headers) {
                // ^[!-~]([ -~]{0,253}[!-~])?$
                proptest::prop_assert!((1..=255).contains(&key.len()), "{:?}", key);
                proptest::prop_assert!(key.bytes().all(|b| (b' '..=b'~').contains(&b)), "{:?}", key);
                proptest::prop_assert!(!key.starts_with(' ') && !key.ends_with(' '), "{:?}", key);
            }
        }

        #[test]
        fn every_documented_key_is_accepted_as_sent(key_text in "[!-~]([ -~]{0,253}[!-~])?") {
            let mut headers = HeaderMap::new();
            headers.insert("idempotency-key", axum::http::HeaderValue::from_str(&key_text).unwrap());
            proptest::prop_assert_eq!(key(&headers).unwrap(), Some(key_text));
        }

        #[test]
        fn scopes_never_collide_across_principals_or_names(a in "[a-z:]{1,8}", b in "[a-z:]{1,8}", key_text in "[!-~]{1,8}") {
            let first = Idempotency::new(&format!("{a}\0shopping"), &key_text, &json!({}));
            let second = Idempotency::new(&format!("{b}\0shopping"), &key_text, &json!({}));
            proptest::prop_assert_eq!(a == b, first.derived_id("workflow") == second.derived_id("workflow"));
        }
    }
}
