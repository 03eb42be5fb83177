//! One delivery attempt: check the destination, sign, POST, judge the answer.
//!
//! The destination rules are checked against the addresses the name resolves to now, and the
//! connection goes to the address checked (`reqwest`'s `resolve` pins it; TLS still verifies the
//! name), so a name that resolves elsewhere between the check and the connection (DNS
//! rebinding) cannot reach a refused address. Redirects are not followed, proxies from the
//! environment are not used, and at most [`MAX_ERROR_BODY`] bytes of an answer are read.

use std::{net::SocketAddr, time::Duration};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use flowgate_config::{Secret, WebhookSettings, secret_key};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// Most bytes of a failed answer kept for the error message.
const MAX_ERROR_BODY: usize = 256;

/// How an attempt went.
#[derive(Debug)]
pub(super) enum Attempt {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// The destination is refused by the rules: retrying cannot help.
    Refused(String),
    /// Anything else (non-2xx, no connection, timeout, no secret): retried.
    Failed {
        /// Why, for the delivery's state.
        error: String,
        /// The metric outcome: `rejected` (an answer other than 2xx) or `error`.
        outcome: &'static str,
    },
}

/// A notification to send.
pub(super) struct Message<'a> {
    /// Where.
    pub url: &'a str,
    /// `webhook-id`.
    pub id: &'a str,
    /// The JSON body, byte for byte as signed.
    pub body: &'a str,
}

/// Sends `message` once, signed with every secret of `settings`.
pub(super) async fn attempt(
    settings: &WebhookSettings,
    message: &Message<'_>,
    timeout: Duration,
) -> Attempt {
    let failed = |error: String| Attempt::Failed {
        error,
        outcome: "error",
    };
    let (url, host, port) = match destination(settings, message.url) {
        Ok(found) => found,
        Err(refused) => return Attempt::Refused(refused),
    };
    let address = match resolve(settings, &host, port).await {
        Ok(address) => address,
        Err(Resolve::Refused(refused)) => return Attempt::Refused(refused),
        Err(Resolve::Failed(error)) => return failed(error),
    };
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let Some(signature) = signature(&settings.secrets, message.id, timestamp, message.body) else {
        return failed("the worker has no signing secret (webhooks.secrets)".to_owned());
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .resolve(&host, address)
        .user_agent(concat!("flowgate-webhooks/", env!("CARGO_PKG_VERSION")))
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => return failed(format!("cannot build an HTTP client: {error}")),
    };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", message.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(message.body.to_owned())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) if error.is_timeout() => return failed(format!("no answer within {timeout:?}")),
        Err(error) if error.is_connect() => return failed("cannot connect".to_owned()),
        Err(error) => return failed(format!("cannot send: {}", without_url(&error))),
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Delivered(status.as_u16());
    }
    let mut excerpt = Vec::new();
    while excerpt.len() < MAX_ERROR_BODY {
        match tokio::time::timeout(Duration::from_secs(1), response.chunk()).await {
            Ok(Ok(Some(chunk))) => excerpt.extend_from_slice(&chunk),
            _ => break,
        }
    }
    excerpt.truncate(MAX_ERROR_BODY);
    let excerpt = String::from_utf8_lossy(&excerpt);
    let excerpt: String = excerpt.chars().filter(|c| !c.is_control()).collect();
    let mut error = format!("the receiver answered {status}");
    if status.is_redirection() {
        error.push_str(" (redirects are not followed)");
    } else if !excerpt.trim().is_empty() {
        error = format!("{error}: {}", excerpt.trim());
    }
    Attempt::Failed {
        error,
        outcome: "rejected",
    }
}

/// The URL, its host and port, if the scheme and host are allowed.
fn destination(
    settings: &WebhookSettings,
    raw: &str,
) -> Result<(reqwest::Url, String, u16), String> {
    let url = reqwest::Url::parse(raw).map_err(|_| "is not a URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_http => {}
        _ => return Err("must be https".to_owned()),
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err("has no host".to_owned()),
    };
    if !settings.host_allowed(&host) {
        return Err(format!("host {host} is not in webhooks.allowed_hosts"));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    Ok((url, host, port))
}

enum Resolve {
    Refused(String),
    Failed(String),
}

/// The address to connect to: the first the host resolves to, when every one is allowed.
async fn resolve(settings: &WebhookSettings, host: &str, port: u16) -> Result<SocketAddr, Resolve> {
    let found: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(found) => found.collect(),
        Err(_) => return Err(Resolve::Failed(format!("cannot resolve {host}"))),
    };
    if found.is_empty() {
        return Err(Resolve::Failed(format!("cannot resolve {host}")));
    }
    if let Some(refused) = found.iter().find(|a| !settings.address_allowed(a.ip())) {
        return Err(Resolve::Refused(format!(
            "{host} resolves to {}, a private, loopback or link-local address",
            refused.ip()
        )));
    }
    Ok(found[0])
}

/// `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` per secret,
/// space separated (Standard Webhooks); `None` without a usable secret.
pub(crate) fn signature(
    secrets: &[Secret],
    id: &str,
    timestamp: u64,
    body: &str,
) -> Option<String> {
    let signed = format!("{id}.{timestamp}.{body}");
    let signatures: Vec<String> = secrets
        .iter()
        .filter_map(secret_key)
        .map(|key| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
            mac.update(signed.as_bytes());
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect();
    (!signatures.is_empty()).then(|| signatures.join(" "))
}

/// reqwest's error text without the URL (which may carry credentials in its query).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the callback");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let signed = signature(
            std::slice::from_ref(&secret),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signed.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        let two = signature(&[secret.clone(), secret], "i", 1, "{}").unwrap();
        assert_eq!(two.split(' ').count(), 2);
        assert_eq!(signature(&[Secret::new("plain")], "i", 1, "{}"), None);
    }

    #[test]
    fn destinations_need_https_and_an_allowed_host() {
        let settings = WebhookSettings {
            allowed_hosts: vec!["*.example.com".to_owned()],
            ..WebhookSettings::default()
        };
        assert!(destination(&settings, "https://hooks.example.com/x").is_ok());
        assert!(destination(&settings, "http://hooks.example.com/x").is_err());
        assert!(destination(&settings, "https://evil.test/x").is_err());
        assert!(destination(&settings, "ftp://hooks.example.com").is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let settings = WebhookSettings::default();
        assert!(matches!(
            resolve(&settings, "localhost", 443).await,
            Err(Resolve::Refused(_))
        ));
        assert!(matches!(
            resolve(&settings, "2130706433", 443).await,
            Err(Resolve::Refused(_) | Resolve::Failed(_))
        ));
    }
}
