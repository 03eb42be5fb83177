//! Headers on every response of the public listener: security headers, the request id and
//! (while traces are exported) the request span's `traceparent`.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    response::Response,
};

use crate::around::Around;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// API responses load nothing and may not be framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The vendored Swagger UI at `/docs`: its scripts, styles and images come from the binary
/// itself; React sets inline `style` attributes and the CSS embeds `data:` SVG icons, and
/// "Try it out" calls the API on the same origin. No inline or remote scripts.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Middleware inside the request span, one layer for every header an answer gets whatever it
/// is: the request's `X-Request-Id` echoed back (unless the answer set one), the span's
/// `traceparent` ([`crate::trace::add_traceparent`]), and `X-Content-Type-Options`,
/// `Referrer-Policy`, `X-Frame-Options` and a `Content-Security-Policy`; `Cache-Control:
/// no-store` on every response but the Swagger UI's static assets (unless the handler chose a
/// policy itself).
#[derive(Clone, Copy)]
pub(crate) struct AnswerHeaders;

/// What [`AnswerHeaders`] keeps of a request: whether it is for the Swagger UI, and its id.
pub(crate) struct Asked {
    docs: bool,
    request_id: Option<HeaderValue>,
}

impl Around for AnswerHeaders {
    type Kept = Asked;

    fn before(&self, request: &Request) -> Asked {
        let path = request.uri().path();
        Asked {
            docs: path == "/docs" || path.starts_with("/docs/"),
            request_id: request.headers().get(X_REQUEST_ID).cloned(),
        }
    }

    fn after(Asked { docs, request_id }: Asked, mut response: Response) -> Response {
        crate::trace::add_traceparent(&mut response);
        let headers = response.headers_mut();
        if let Some(id) = request_id
            && !headers.contains_key(X_REQUEST_ID)
        {
            headers.insert(X_REQUEST_ID, id);
        }
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
}
