//! Protection of the public listener: per-client rate limiting, a global concurrency limit
//! with load shedding, a request timeout, CORS and security headers.
//!
//! [`Protection::new`] builds the shared state from the settings; `startup` layers
//! [`Protection::guard`] inside the problem renderer (so rejections are problem documents with
//! the request id) and [`headers::security_headers`] and [`cors::layer`] outside it (so every
//! answer, rejections included, carries them). `crate::auth::authenticate` runs just outside the
//! guard, so authenticated requests are rate limited per principal. Health, `/docs` and `/openapi.json` are exempt
//! from the rate and concurrency limits: probes must keep answering under load.

pub mod cors;
pub mod headers;
pub mod rate;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use flowgate_config::Settings;
use tokio::sync::Semaphore;

use crate::{error::ApiError, metrics::ApiMetrics, metrics::RejectReason};

pub use rate::RateLimiter;

/// Shared state of [`Protection::guard`]. Cheap to clone.
#[derive(Clone)]
pub struct Protection {
    rate: Option<Arc<RateLimiter>>,
    trust_forwarded_for: bool,
    slots: Option<Arc<Semaphore>>,
    timeout: Duration,
    metrics: ApiMetrics,
}

impl Protection {
    /// Limits as configured in `limits.*` and `api.request_timeout`.
    pub fn new(settings: &Settings, metrics: ApiMetrics) -> Self {
        let limits = &settings.limits;
        Self {
            rate: (limits.rate_per_second > 0.0)
                .then(|| Arc::new(RateLimiter::new(limits.rate_per_second, limits.burst))),
            trust_forwarded_for: limits.trust_forwarded_for,
            slots: (limits.max_concurrent_requests > 0)
                .then(|| Arc::new(Semaphore::new(limits.max_concurrent_requests))),
            timeout: settings.api.request_timeout,
            metrics,
        }
    }

    /// Middleware: rate limit (429), then a concurrency slot or 503 at once, then the handler
    /// bounded by the request timeout (504).
    pub async fn guard(State(this): State<Self>, request: Request, next: Next) -> Response {
        let exempt = is_exempt(request.uri().path());
        if !exempt && let Some(rate) = &this.rate {
            let client = client_key(&request, this.trust_forwarded_for);
            if let Err(retry_after) = rate.check(&client) {
                this.metrics.rejected(RejectReason::RateLimited);
                return ApiError::RateLimited {
                    retry_after_secs: retry_after,
                }
                .into_response();
            }
        }
        // Held until the response head is produced; dropped with the request if the client
        // goes away.
        let _slot = match (&this.slots, exempt) {
            (Some(slots), false) => match slots.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    this.metrics.rejected(RejectReason::Overloaded);
                    return ApiError::Overloaded.into_response();
                }
            },
            _ => None,
        };
        match tokio::time::timeout(this.timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                this.metrics.rejected(RejectReason::Timeout);
                ApiError::RequestTimeout(humantime::format_duration(this.timeout).to_string())
                    .into_response()
            }
        }
    }
}

/// Probes and documentation: never rate limited or shed.
pub(crate) fn is_exempt(path: &str) -> bool {
    matches!(path, "/" | "/livez" | "/readyz" | "/openapi.json")
        || path == "/docs"
        || path.starts_with("/docs/")
}

/// Who a request counts against: the authenticated principal (API key name or token subject), else the
/// client address (the last `X-Forwarded-For` entry when trusted, else the TCP peer).
fn client_key(request: &Request, trust_forwarded_for: bool) -> String {
    if let Some(principal) = request.extensions().get::<crate::auth::Principal>() {
        return principal.bucket();
    }
    if trust_forwarded_for
        && let Some(ip) = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<std::net::IpAddr>().ok())
            .next_back()
    {
        return format!("ip:{ip}");
    }
    request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "ip:unknown".to_owned(), |c| format!("ip:{}", c.0.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_and_docs_are_exempt_and_api_routes_are_not() {
        for path in [
            "/",
            "/livez",
            "/readyz",
            "/openapi.json",
            "/docs",
            "/docs/index.html",
        ] {
            assert!(is_exempt(path), "{path}");
        }
        for path in ["/v1/workflows", "/workflows/shopping", "/docsx", "/livez/x"] {
            assert!(!is_exempt(path), "{path}");
        }
    }

    #[test]
    fn the_last_forwarded_address_is_the_client_only_when_trusted() {
        let request = Request::builder()
            .header("x-forwarded-for", "10.0.0.1, 203.0.113.7")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(client_key(&request, true), "ip:203.0.113.7");
        assert_eq!(client_key(&request, false), "ip:unknown");
    }
}
