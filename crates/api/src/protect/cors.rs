//! CORS from `cors.*`: nothing at all unless origins are configured.

use axum::http::{HeaderName, HeaderValue, Method, header};
use flowgate_config::CorsSettings;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers browsers may send beyond the CORS-safelisted ones.
const ALLOWED_HEADERS: [&str; 8] = [
    "content-type",
    "authorization",
    "x-api-key",
    "idempotency-key",
    "prefer",
    "x-request-id",
    "traceparent",
    "tracestate",
];

/// Response headers scripts may read beyond the CORS-safelisted ones.
const EXPOSED_HEADERS: [&str; 6] = [
    "location",
    "idempotent-replayed",
    "preference-applied",
    "retry-after",
    "x-request-id",
    "traceparent",
];

/// The CORS layer, or `None` when no origin is allowed. Origins were validated at load.
pub(crate) fn layer(settings: &CorsSettings) -> Option<CorsLayer> {
    if settings.allowed_origins.is_empty() {
        return None;
    }
    let origins = if settings.allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
            .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
            .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
            .vary([
                header::ORIGIN,
                header::ACCESS_CONTROL_REQUEST_METHOD,
                header::ACCESS_CONTROL_REQUEST_HEADERS,
            ])
            .max_age(settings.max_age),
    )
}
