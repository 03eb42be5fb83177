//! Security headers on every response of the public listener.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// API responses load nothing and may not be framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The vendored Swagger UI at `/docs`: its scripts, styles and images come from the binary
/// itself; React sets inline `style` attributes and the CSS embeds `data:` SVG icons, and
/// "Try it out" calls the API on the same origin. No inline or remote scripts.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Middleware adding `X-Content-Type-Options`, `Referrer-Policy`, `X-Frame-Options` and a
/// `Content-Security-Policy` to every response, and `Cache-Control: no-store` to every
/// response but the Swagger UI's static assets (unless the handler chose a policy itself).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let docs = {
        let path = request.uri().path();
        path == "/docs" || path.starts_with("/docs/")
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        if docs { DOCS_CSP } else { API_CSP },
    );
    if !docs && !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}
