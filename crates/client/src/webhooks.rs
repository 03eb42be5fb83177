//! Verifying the completion webhooks Flowgate sends (Standard Webhooks signatures).
//!
//! A receiver checks every notification before trusting it:
//!
//! ```
//! use std::time::Duration;
//!
//! use flowgate_client::{WebhookNotification, verify_webhook};
//! use reqwest::header::HeaderMap;
//!
//! fn receive(headers: &HeaderMap, body: &[u8]) -> Option<WebhookNotification> {
//!     let secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"];
//!     verify_webhook(&secrets, headers, body, Duration::from_secs(300)).ok()?;
//!     serde_json::from_slice(body).ok()
//! }
//! ```
//!
//! Deliveries are at least once: drop a notification whose `webhook-id` was seen already.

use std::time::{Duration, SystemTime};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// Why a notification is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// `webhook-id`, `webhook-timestamp` or `webhook-signature` is missing or unreadable.
    #[error("missing or malformed header {0}")]
    MissingHeader(&'static str),
    /// The timestamp is further from now than the tolerance (a replay, or a wrong clock).
    #[error("the timestamp is outside the tolerance")]
    Timestamp,
    /// None of the signatures was made with any of the secrets.
    #[error("no valid signature")]
    Signature,
    /// A secret is not `whsec_<base64>` (or plain base64).
    #[error("a secret is not whsec_<base64>")]
    Secret,
}

/// Checks a notification as received: `headers` carry `webhook-id`, `webhook-timestamp` and
/// `webhook-signature`, and one of the signatures must be the HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under one of `secrets` (`whsec_<base64>`; several during a
/// rotation), compared in constant time; the timestamp must be within `tolerance` of now.
pub fn verify_webhook(
    secrets: &[&str],
    headers: &HeaderMap,
    body: &[u8],
    tolerance: Duration,
) -> Result<(), WebhookError> {
    verify_webhook_at(secrets, headers, body, tolerance, SystemTime::now())
}

/// [`verify_webhook`] as of `now`.
pub fn verify_webhook_at(
    secrets: &[&str],
    headers: &HeaderMap,
    body: &[u8],
    tolerance: Duration,
    now: SystemTime,
) -> Result<(), WebhookError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::MissingHeader(name))
    };
    let id = header("webhook-id")?;
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    let seconds: u64 = timestamp
        .parse()
        .map_err(|_| WebhookError::MissingHeader("webhook-timestamp"))?;
    let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
    let skew = now.duration_since(sent).unwrap_or_else(|e| e.duration());
    if skew > tolerance {
        return Err(WebhookError::Timestamp);
    }
    let keys = secrets
        .iter()
        .map(|secret| {
            let encoded = secret.trim();
            let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
            STANDARD.decode(encoded).map_err(|_| WebhookError::Secret)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let presented: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .collect();
    let mut valid = false;
    for key in &keys {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| WebhookError::Secret)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        for signature in &presented {
            valid |= bool::from(expected.as_slice().ct_eq(signature));
        }
    }
    if valid {
        Ok(())
    } else {
        Err(WebhookError::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const AT: u64 = 1_614_265_330;

    fn headers(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "webhook-id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap(),
        );
        headers.insert("webhook-timestamp", AT.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        headers
    }

    fn verify(
        secrets: &[&str],
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(), WebhookError> {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
        verify_webhook_at(secrets, headers, body, Duration::from_secs(300), now)
    }

    #[test]
    fn the_specifications_example_verifies() {
        assert_eq!(
            verify(&[SECRET], &headers(SIGNATURE), BODY, AT + 10),
            Ok(())
        );
    }

    #[test]
    fn any_of_several_signatures_and_secrets_verifies() {
        let other = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3";
        let both = format!("v1,bm90IGl0 {SIGNATURE}");
        assert_eq!(verify(&[other, SECRET], &headers(&both), BODY, AT), Ok(()));
        assert_eq!(
            verify(&[other], &headers(SIGNATURE), BODY, AT),
            Err(WebhookError::Signature)
        );
    }

    #[test]
    fn a_changed_body_an_old_timestamp_or_missing_headers_are_refused() {
        assert_eq!(
            verify(&[SECRET], &headers(SIGNATURE), br#"{"test": 1}"#, AT),
            Err(WebhookError::Signature)
        );
        assert_eq!(
            verify(&[SECRET], &headers(SIGNATURE), BODY, AT + 301),
            Err(WebhookError::Timestamp)
        );
        assert_eq!(
            verify(&[SECRET], &headers(SIGNATURE), BODY, AT - 301),
            Err(WebhookError::Timestamp)
        );
        assert_eq!(
            verify(&[SECRET], &headers("v2,abc"), BODY, AT),
            Err(WebhookError::Signature)
        );
        let mut missing = headers(SIGNATURE);
        missing.remove("webhook-id");
        assert_eq!(
            verify(&[SECRET], &missing, BODY, AT),
            Err(WebhookError::MissingHeader("webhook-id"))
        );
        assert_eq!(
            verify(&["whsec_!!"], &headers(SIGNATURE), BODY, AT),
            Err(WebhookError::Secret)
        );
    }
}
