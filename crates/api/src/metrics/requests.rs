//! HTTP server metrics: requests in flight, and their duration by method, route and status.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use prometheus::IntGauge;

use super::{ApiMetrics, UNMATCHED_ROUTE};

/// Middleware measuring every request: in flight, and duration by method, route and status.
/// Layered onto the routes (so [`MatchedPath`] is known) outside everything else.
pub(crate) async fn track_http(
    State(metrics): State<ApiMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let method = method_label(request.method());
    // The route template is shared (`MatchedPath` holds an `Arc<str>`): no copy per request.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched
        .as_ref()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    let in_flight = InFlight(
        metrics
            .inner
            .http_active
            .with_label_values(&[method, route]),
    );
    in_flight.0.inc();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .inner
        .http_duration
        .with_label_values(&[method, route, response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    drop(in_flight);
    response
}

/// Leaves the in-flight gauge also when the client goes away and the request is dropped.
struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The method as the semantic conventions bound it: the standard ones, else `_OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_methods_share_one_label_value() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap()),
            "_OTHER"
        );
    }
}
