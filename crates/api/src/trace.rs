//! Request tracing: one span per request, carrying the matched route (never the raw path, which
//! holds ids), the request id and the trace id, so every log line of a request can be found by
//! either id.
//!
//! With OpenTelemetry on (see `flowgate_telemetry`), the span is also the request's HTTP server
//! span, named and attributed after the HTTP semantic conventions: `{method} {route}`, kind
//! `SERVER`, `http.request.method`, `http.route`, `http.response.status_code`, `url.path`,
//! `url.scheme`. It continues the client's W3C `traceparent`/`baggage`, the response carries its
//! own `traceparent`, and workflows started inside it join its trace. With OpenTelemetry off
//! there is no trace id and no `traceparent`.

use std::time::Duration;

use axum::{
    extract::MatchedPath,
    http::{self, Version},
    response::Response,
};
use opentelemetry::{
    global,
    propagation::{Injector, TextMapPropagator},
    trace::{Status, TraceContextExt},
};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    request_id::{MakeRequestId, RequestId},
    trace::{DefaultOnRequest, DefaultOnResponse, MakeSpan, OnResponse, TraceLayer},
};
use tracing::{Level, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Builds the request span.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> Span {
        let matched = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let route = matched.unwrap_or("<unmatched>");
        let method = request.method();
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let span = tracing::info_span!(
            "request",
            method = %method,
            route,
            request_id,
            trace_id = Empty,
            // A start's: the run it started, so the request's one line names it.
            workflow = Empty,
            workflow_id = Empty,
            run_id = Empty,
            replayed = Empty,
            otel.name = Empty,
            otel.kind = "server",
        );
        if !flowgate_telemetry::traces_exported() {
            return span;
        }
        // Without a matched route the name is the method alone: the raw path would make one
        // span name per workflow id.
        let name = match matched {
            Some(route) => format!("{method} {route}"),
            None => method.to_string(),
        };
        span.record("otel.name", name);
        // Exported attributes only: the raw path is fine in a trace, never in a log line.
        span.set_attribute("http.request.method", method.to_string());
        if let Some(route) = matched {
            span.set_attribute("http.route", route.to_owned());
        }
        span.set_attribute("url.path", request.uri().path().to_owned());
        span.set_attribute("url.scheme", "http");
        span.set_attribute(
            "network.protocol.version",
            protocol_version(request.version()),
        );
        let parent = global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        // Fails only without the OpenTelemetry layer (tracing off): nothing to continue then.
        let _ = span.set_parent(parent);
        if let Some(trace_id) = trace_id_of(&span) {
            span.record("trace_id", trace_id);
        }
        span
    }
}

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// The trace id of `span`, when it is an OpenTelemetry span.
fn trace_id_of(span: &Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The current request's trace id (for problem documents), when traces are exported.
pub(crate) fn current_trace_id() -> Option<String> {
    if !flowgate_telemetry::traces_exported() {
        return None;
    }
    trace_id_of(&Span::current())
}

/// Records the status on the request span, then logs the request's one line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RecordResponse;

impl<B> OnResponse<B> for RecordResponse {
    fn on_response(self, response: &http::Response<B>, latency: Duration, span: &Span) {
        let status = response.status();
        if flowgate_telemetry::traces_exported() {
            span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
        }
        // For a server span only a 5xx is an error; a 4xx is the client's.
        if flowgate_telemetry::traces_exported() && status.is_server_error() {
            span.set_attribute("error.type", status.as_str().to_owned());
            span.set_status(Status::error(status.to_string()));
        }
        DefaultOnResponse::new()
            .level(Level::INFO)
            .on_response(response, latency, span);
    }
}

/// A new UUID v4 as the `x-request-id` of a request that came without one. Written on the
/// stack, then copied once into the header value (`tower_http`'s `MakeRequestUuid` makes a
/// `String` first).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &http::Request<B>) -> Option<RequestId> {
        let mut buffer = uuid::Uuid::encode_buffer();
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
        let id = http::HeaderValue::from_str(id).expect("a UUID is a valid header value");
        Some(RequestId::new(id))
    }
}

/// The tracing layer used by the API.
pub(crate) fn layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    DefaultOnRequest,
    RecordResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(DefaultOnRequest::new().level(Level::DEBUG))
        .on_response(RecordResponse)
}

/// Adds the current (request) span's `traceparent` (and its `tracestate`, if any) to
/// `response`, so a client can look its request up in the tracing backend. Called inside
/// [`layer`]; nothing while traces are not exported.
pub(crate) fn add_traceparent(response: &mut Response) {
    if !flowgate_telemetry::traces_exported() {
        return;
    }
    let context = Span::current().context();
    TraceContextPropagator::new().inject_context(
        &context,
        &mut NonEmpty(HeaderInjector(response.headers_mut())),
    );
}

/// Skips empty values (the propagator writes an empty `tracestate`).
struct NonEmpty<'a>(HeaderInjector<'a>);

impl Injector for NonEmpty<'_> {
    fn set(&mut self, key: &str, value: String) {
        if !value.is_empty() {
            self.0.set(key, value);
        }
    }
}
