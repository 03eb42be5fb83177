//! `[webhooks]`: completion webhooks — where they may go, how they are signed and retried.
//!
//! The destination rules ([`WebhookSettings::host_allowed`], [`WebhookSettings::address_allowed`])
//! are checked twice: by the API when a start names a callback (a refusal is a 422), and by the
//! worker on every delivery attempt against the address it actually connects to, so a name that
//! resolves elsewhere later (DNS rebinding) is still refused.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::{secret::Secret, settings::list_or_comma_separated};

/// Completion webhooks (`"callbacks"` of a start).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Hosts callbacks may name: exact names, `*.example.com` (any subdomain) or `*`; empty =
    /// any public host. In the environment: comma separated.
    #[serde(default, deserialize_with = "list_or_comma_separated")]
    pub allowed_hosts: Vec<String>,
    /// Allow destinations on loopback, private, link-local, unique-local and other non-public
    /// addresses (development and tests only: it lets callers reach the internal network).
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// Allow `http://` callbacks (development only: the notification travels in clear).
    #[serde(default)]
    pub allow_http: bool,
    /// Signing secrets, `whsec_<base64>` as Standard Webhooks defines them; every one signs each
    /// delivery (two during a rotation). Read by the worker. In the environment: comma separated.
    #[serde(
        default,
        deserialize_with = "secrets_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secrets: Vec<Secret>,
    /// How long a notification is retried before its delivery is given up.
    #[serde(with = "humantime_serde")]
    pub retry_for: Duration,
    /// First wait between two attempts (doubling after each failure).
    #[serde(with = "humantime_serde")]
    pub initial_retry_interval: Duration,
    /// Longest wait between two attempts.
    #[serde(with = "humantime_serde")]
    pub max_retry_interval: Duration,
    /// Bound on one attempt (connect, send, answer).
    #[serde(with = "humantime_serde")]
    pub attempt_timeout: Duration,
}

impl Default for WebhookSettings {
    /// The values of `default.toml`.
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            allow_private_addresses: false,
            allow_http: false,
            secrets: Vec::new(),
            retry_for: Duration::from_secs(24 * 60 * 60),
            initial_retry_interval: Duration::from_secs(1),
            max_retry_interval: Duration::from_secs(60 * 60),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl WebhookSettings {
    /// Whether `host` (a name or an IP literal, lower case, without brackets) matches
    /// `allowed_hosts`.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed_hosts.is_empty()
            || self.allowed_hosts.iter().any(|pattern| {
                let pattern = pattern.trim().to_ascii_lowercase();
                match pattern.strip_prefix("*.") {
                    _ if pattern == "*" => true,
                    Some(domain) => host
                        .strip_suffix(domain)
                        .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                    None => host == pattern,
                }
            })
    }

    /// Whether a callback may connect to `address`: any public address, others only with
    /// `allow_private_addresses`.
    pub fn address_allowed(&self, address: IpAddr) -> bool {
        self.allow_private_addresses || is_public(address)
    }
}

/// Whether `address` is a public unicast address: not unspecified, loopback, private (RFC 1918),
/// shared (RFC 6598), link-local, unique-local, multicast, broadcast, documentation, benchmarking
/// or reserved, including IPv4 addresses carried in IPv6 (mapped, compatible, 6to4, NAT64).
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4
    // address a connection may end up at.
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return is_public_v4(embedded(segments[6], segments[7]));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(embedded(segments[1], segments[2]));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]))
}

/// The HMAC key of a `whsec_<base64>` secret, if it is one (24 to 64 bytes).
pub fn secret_key(secret: &Secret) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let encoded = secret.expose().trim().strip_prefix("whsec_")?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .filter(|key| (24..=64).contains(&key.len()))
}

fn secrets_list<'de, D>(deserializer: D) -> Result<Vec<Secret>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(list_or_comma_separated(deserializer)?
        .into_iter()
        .map(Secret::new)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &[&str]) -> WebhookSettings {
        WebhookSettings {
            allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..WebhookSettings::default()
        }
    }

    #[test]
    fn hosts_match_exactly_by_subdomain_or_all() {
        assert!(settings(&[]).host_allowed("anything.example"));
        let s = settings(&["hooks.example.com", "*.partner.example"]);
        assert!(s.host_allowed("hooks.example.com"));
        assert!(s.host_allowed("HOOKS.example.com."));
        assert!(s.host_allowed("a.partner.example"));
        assert!(!s.host_allowed("partner.example"));
        assert!(!s.host_allowed("evilpartner.example"));
        assert!(!s.host_allowed("hooks.example.com.evil"));
        assert!(settings(&["*"]).host_allowed("x.y"));
    }

    #[test]
    fn only_public_addresses_are_allowed_by_default() {
        let refused = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "ff02::1",
        ];
        let s = WebhookSettings::default();
        for address in refused {
            assert!(!s.address_allowed(address.parse().unwrap()), "{address}");
        }
        for address in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(s.address_allowed(address.parse().unwrap()), "{address}");
        }
        let open = WebhookSettings {
            allow_private_addresses: true,
            ..WebhookSettings::default()
        };
        assert!(open.address_allowed("127.0.0.1".parse().unwrap()));
    }
}
