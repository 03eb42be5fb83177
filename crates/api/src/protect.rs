//! Protection of the public listener: per-client rate limiting, limits on failed
//! authentications, global and per-client concurrency limits with load shedding, a request
//! timeout, CORS and security headers.
//!
//! [`Protection`] holds the limits' state; `crate::access::Gate` applies them to every route
//! that is not open (probes and documentation never are limited: they must keep answering under
//! load). [`headers::AnswerHeaders`] and [`cors::layer`] wrap every answer. Every limit is
//! per replica: N replicas let a client make N times as many requests.

pub(crate) mod concurrency;
pub(crate) mod cors;
pub(crate) mod headers;
pub(crate) mod rate;

use std::{future::Future, sync::Arc, time::Duration};

use axum::extract::{ConnectInfo, Request};
use flowgate_config::Settings;
use futures::FutureExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{error::ApiError, metrics::ApiMetrics, metrics::RejectReason};

pub(crate) use concurrency::ClientSlots;
pub(crate) use rate::RateLimiter;

/// The limits' shared state. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Protection {
    rate: Option<Arc<RateLimiter>>,
    failed_auth: Option<Arc<RateLimiter>>,
    trust_forwarded_for: bool,
    slots: Option<Arc<Semaphore>>,
    client_slots: Option<Arc<ClientSlots>>,
    timeout: Duration,
    metrics: ApiMetrics,
}

/// The concurrency slots a request holds until its response head is produced.
pub(crate) struct Slots {
    _global: Option<OwnedSemaphorePermit>,
    _client: Option<concurrency::ClientSlot>,
}

impl Protection {
    /// Limits as configured in `limits.*` and `api.request_timeout`.
    pub(crate) fn new(settings: &Settings, metrics: ApiMetrics) -> Self {
        let limits = &settings.limits;
        let per_minute = limits.failed_auth_per_minute;
        Self {
            rate: (limits.rate_per_second > 0.0)
                .then(|| Arc::new(RateLimiter::new(limits.rate_per_second, limits.burst))),
            failed_auth: (settings.auth.enabled && per_minute > 0)
                .then(|| Arc::new(RateLimiter::new(f64::from(per_minute) / 60.0, per_minute))),
            trust_forwarded_for: limits.trust_forwarded_for,
            slots: (limits.max_concurrent_requests > 0)
                .then(|| Arc::new(Semaphore::new(limits.max_concurrent_requests))),
            client_slots: (limits.max_concurrent_per_client > 0)
                .then(|| Arc::new(ClientSlots::new(limits.max_concurrent_per_client))),
            timeout: settings.api.request_timeout,
            metrics,
        }
    }

    /// The client address of `request` as a limiter bucket (`ip:<address>`).
    pub(crate) fn address_of(&self, request: &Request) -> String {
        client_address(request, self.trust_forwarded_for)
    }

    /// 429 while `address` has used up its failed authentications; nothing is spent.
    pub(crate) fn may_try_credentials(&self, address: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.failed_auth else {
            return Ok(());
        };
        limiter.peek(address).map_err(|retry_after_secs| {
            self.metrics.rejected(RejectReason::FailedAuthLimited);
            ApiError::RateLimited { retry_after_secs }
        })
    }

    /// Records a failed authentication from `address`.
    pub(crate) fn failed_credentials(&self, address: &str) {
        if let Some(limiter) = &self.failed_auth {
            let _ = limiter.check(address);
        }
    }

    /// Takes a token of `client`'s rate bucket, or 429.
    pub(crate) fn rate(&self, client: &str) -> Result<(), ApiError> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        rate.check(client).map_err(|retry_after_secs| {
            self.metrics.rejected(RejectReason::RateLimited);
            ApiError::RateLimited { retry_after_secs }
        })
    }

    /// A slot of `client`'s own and one of the process's, or 503 at once.
    pub(crate) fn slots(&self, client: &str) -> Result<Slots, ApiError> {
        let client_slot = match &self.client_slots {
            Some(slots) => Some(slots.acquire(client).ok_or_else(|| {
                self.metrics.rejected(RejectReason::ClientOverloaded);
                ApiError::Overloaded
            })?),
            None => None,
        };
        let global = match &self.slots {
            Some(slots) => Some(slots.clone().try_acquire_owned().map_err(|_| {
                self.metrics.rejected(RejectReason::Overloaded);
                ApiError::Overloaded
            })?),
            None => None,
        };
        Ok(Slots {
            _global: global,
            _client: client_slot,
        })
    }

    /// `work` bounded by `api.request_timeout` (504). `work` is held in place, not moved into a
    /// wrapping `async fn`, which would keep a second copy of it.
    pub(crate) fn within_timeout<T>(
        &self,
        work: impl Future<Output = Result<T, ApiError>>,
    ) -> impl Future<Output = Result<T, ApiError>> {
        tokio::time::timeout(self.timeout, work).map(|answer| match answer {
            Ok(result) => result,
            Err(_) => {
                self.metrics.rejected(RejectReason::Timeout);
                Err(ApiError::RequestTimeout(
                    humantime::format_duration(self.timeout).to_string(),
                ))
            }
        })
    }
}

/// The client address of a request as a limiter bucket: the last `X-Forwarded-For` entry when
/// trusted, else the TCP peer; IPv6 addresses by their /64, which one client typically holds
/// whole (so it cannot take a fresh bucket per address).
fn client_address(request: &Request, trust_forwarded_for: bool) -> String {
    let forwarded = trust_forwarded_for
        .then(|| {
            request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<std::net::IpAddr>().ok())
                .next_back()
        })
        .flatten();
    let peer = || {
        request
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
    };
    match forwarded.or_else(peer) {
        Some(ip) => format!("ip:{}", bucket_of(ip)),
        None => "ip:unknown".to_owned(),
    }
}

/// An IPv4 address, or an IPv6 address's /64.
fn bucket_of(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_forwarded_address_is_the_client_only_when_trusted() {
        let request = Request::builder()
            .header("x-forwarded-for", "10.0.0.1, 203.0.113.7")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(client_address(&request, true), "ip:203.0.113.7");
        assert_eq!(client_address(&request, false), "ip:unknown");
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let bucket = |ip: &str| bucket_of(ip.parse().unwrap());
        assert_eq!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:2:ffff::9"));
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:3::1"));
        assert_eq!(bucket("::ffff:203.0.113.7"), "203.0.113.7");
    }
}
