//! HTTP server metrics: requests in flight, and their duration by method, route and status.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::Method,
    response::Response,
};
use prometheus::IntGauge;

use super::{ApiMetrics, UNMATCHED_ROUTE};
use crate::around::Around;

/// Middleware measuring every request: in flight, and duration by method, route and status.
/// Layered onto the routes (so [`MatchedPath`] is known) outside everything else.
#[derive(Clone)]
pub(crate) struct TrackHttp(pub(crate) ApiMetrics);

/// A request being measured: its labels, its start, and its place in the in-flight gauge.
pub(crate) struct Measured {
    metrics: ApiMetrics,
    method: &'static str,
    /// The route template is shared (`MatchedPath` holds an `Arc<str>`): no copy per request.
    route: Option<MatchedPath>,
    started: Instant,
    in_flight: InFlight,
}

impl Around for TrackHttp {
    type Kept = Measured;

    fn before(&self, request: &Request) -> Measured {
        let method = method_label(request.method());
        let route = request.extensions().get::<MatchedPath>().cloned();
        let in_flight = InFlight(
            self.0
                .inner
                .http_active
                .with_label_values(&[method, route_label(route.as_ref())]),
        );
        in_flight.0.inc();
        Measured {
            metrics: self.0.clone(),
            method,
            route,
            started: Instant::now(),
            in_flight,
        }
    }

    fn after(measured: Measured, response: Response) -> Response {
        let route = route_label(measured.route.as_ref());
        measured
            .metrics
            .inner
            .http_duration
            .with_label_values(&[measured.method, route, response.status().as_str()])
            .observe(measured.started.elapsed().as_secs_f64());
        drop(measured.in_flight);
        response
    }
}

/// The route label: the matched template, or one label for every path no route matched.
fn route_label(route: Option<&MatchedPath>) -> &str {
    route.map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
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
