//! The API's Prometheus metrics, served as text at `/metrics` on the admin listener
//! (`metrics.api_admin_host:metrics.api_admin_port`), apart from the public port and without
//! authentication.
//!
//! HTTP metrics follow the OpenTelemetry HTTP semantic conventions as Prometheus spells them.
//! Every label value comes from a bounded set: routes are templates from [`MatchedPath`] (never
//! the raw path, which holds workflow ids; [`UNMATCHED_ROUTE`] when nothing matched), methods
//! outside the standard ones are `_OTHER`, and workflow ids appear nowhere.
//!
//! [`MatchedPath`]: axum::extract::MatchedPath

mod admin;
mod labels;
mod requests;

use std::{sync::Arc, time::Duration};

use flowgate_temporal::TemporalLink;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    core::{Collector, Desc},
    proto::MetricFamily,
};

pub(crate) use admin::{admin_router, bind_admin_listener, serve_admin};
pub use labels::{FailureReason, TemporalOperation};
pub(crate) use labels::{RejectReason, StartOutcome};
pub(crate) use requests::TrackHttp;

/// `service` label of `flowgate_build_info`.
pub(crate) const SERVICE: &str = "flowgate-api";

/// `http_route` of requests that matched no route (404s of unknown paths).
pub(crate) const UNMATCHED_ROUTE: &str = "<unmatched>";

/// Buckets of `http.server.request.duration` in the HTTP semantic conventions, in seconds.
pub(crate) const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Buckets of Temporal calls: the HTTP ones, plus room for result long-polls, which last up to
/// `api.result_wait` (30 s by default).
pub(crate) const TEMPORAL_DURATION_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0,
];

/// The API's metrics. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ApiMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http_duration: HistogramVec,
    http_active: IntGaugeVec,
    workflow_starts: IntCounterVec,
    temporal_duration: HistogramVec,
    temporal_failures: IntCounterVec,
    rejected: IntCounterVec,
    jwks_fetches: IntCounterVec,
    streams_open: IntGauge,
    stream_events: IntCounter,
    stream_resumes: IntCounter,
}

impl ApiMetrics {
    /// Registers every metric; `flowgate_temporal_up` reads `link` at each scrape.
    pub(crate) fn new(link: TemporalLink) -> prometheus::Result<Self> {
        let registry = flowgate_telemetry::metrics::registry(SERVICE)?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_server_request_duration_seconds",
                "Duration of HTTP server requests, until the response head is sent.",
            )
            .buckets(HTTP_DURATION_BUCKETS.to_vec()),
            &[
                "http_request_method",
                "http_route",
                "http_response_status_code",
            ],
        )?;
        let http_active = IntGaugeVec::new(
            Opts::new(
                "http_server_active_requests",
                "HTTP server requests in flight.",
            ),
            &["http_request_method", "http_route"],
        )?;
        let workflow_starts = IntCounterVec::new(
            Opts::new(
                "flowgate_workflow_starts_total",
                "Requests to start a workflow that reached Temporal, by workflow type and outcome.",
            ),
            &["workflow_type", "outcome"],
        )?;
        let temporal_duration = HistogramVec::new(
            HistogramOpts::new(
                "flowgate_temporal_request_duration_seconds",
                "Duration of the API's Temporal calls, failed ones included.",
            )
            .buckets(TEMPORAL_DURATION_BUCKETS.to_vec()),
            &["operation"],
        )?;
        let temporal_failures = IntCounterVec::new(
            Opts::new(
                "flowgate_temporal_request_failures_total",
                "Temporal calls of the API that failed, by operation and reason.",
            ),
            &["operation", "reason"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "flowgate_http_rejected_requests_total",
                "Requests the API's protection answered itself, by reason (unauthenticated: 401, forbidden: 403, rate_limited: 429, overloaded: 503, timeout: 504).",
            ),
            &["reason"],
        )?;
        let jwks_fetches = IntCounterVec::new(
            Opts::new(
                "flowgate_auth_jwks_fetches_total",
                "Fetches of the token signing key set (auth.jwt.jwks_url), by outcome (ok, error).",
            ),
            &["outcome"],
        )?;
        let streams_open = IntGauge::new(
            "flowgate_event_streams_open",
            "Event streams (GET /v1/workflows/{id}/events) open now.",
        )?;
        let stream_events = IntCounter::new(
            "flowgate_event_stream_events_total",
            "Events sent on event streams.",
        )?;
        let stream_resumes = IntCounter::new(
            "flowgate_event_stream_resumes_total",
            "Event streams opened by a client reconnecting with Last-Event-ID.",
        )?;
        let temporal_up = TemporalUp {
            gauge: IntGauge::new(
                "flowgate_temporal_up",
                "1 when Temporal answered the API's last reachability check, else 0.",
            )?,
            link,
        };
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(http_active.clone()))?;
        registry.register(Box::new(workflow_starts.clone()))?;
        registry.register(Box::new(temporal_duration.clone()))?;
        registry.register(Box::new(temporal_failures.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        registry.register(Box::new(jwks_fetches.clone()))?;
        registry.register(Box::new(temporal_up))?;
        registry.register(Box::new(streams_open.clone()))?;
        registry.register(Box::new(stream_events.clone()))?;
        registry.register(Box::new(stream_resumes.clone()))?;
        for reason in RejectReason::ALL {
            rejected.with_label_values(&[reason.as_str()]);
        }
        // Series that exist from the start read as 0, not "no data", in rates and alerts.
        for def in flowgate_workflows::registry::registry().all() {
            for outcome in StartOutcome::ALL {
                workflow_starts.with_label_values(&[def.temporal_type, outcome.as_str()]);
            }
        }
        for operation in TemporalOperation::ALL {
            temporal_duration.with_label_values(&[operation.as_str()]);
            for reason in FailureReason::ALL {
                temporal_failures.with_label_values(&[operation.as_str(), reason.as_str()]);
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                http_duration,
                http_active,
                workflow_starts,
                temporal_duration,
                temporal_failures,
                rejected,
                jwks_fetches,
                streams_open,
                stream_events,
                stream_resumes,
            }),
        })
    }

    /// Every metric, in the text exposition format.
    pub(crate) fn render(&self) -> prometheus::Result<String> {
        flowgate_telemetry::metrics::encode(&self.inner.registry)
    }

    /// Counts a request to start a workflow.
    pub(crate) fn workflow_start(&self, workflow_type: &str, outcome: StartOutcome) {
        self.inner
            .workflow_starts
            .with_label_values(&[workflow_type, outcome.as_str()])
            .inc();
    }

    /// Counts a request rejected by the API's protection.
    pub(crate) fn rejected(&self, reason: RejectReason) {
        self.inner
            .rejected
            .with_label_values(&[reason.as_str()])
            .inc();
    }

    /// Counts one fetch of the token signing key set.
    pub(crate) fn jwks_fetch(&self, ok: bool) {
        self.inner
            .jwks_fetches
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }

    /// Counts an event stream opened.
    pub(crate) fn stream_opened(&self) {
        self.inner.streams_open.inc();
    }

    /// Counts an event stream closed.
    pub(crate) fn stream_closed(&self) {
        self.inner.streams_open.dec();
    }

    /// Counts one event sent on a stream.
    pub(crate) fn stream_event(&self) {
        self.inner.stream_events.inc();
    }

    /// Counts a stream that resumed after an event.
    pub(crate) fn stream_resumed(&self) {
        self.inner.stream_resumes.inc();
    }

    /// Records one Temporal call that took `elapsed` and failed for `failure`, if it did.
    pub(crate) fn temporal_call(
        &self,
        operation: TemporalOperation,
        elapsed: Duration,
        failure: Option<FailureReason>,
    ) {
        let operation = operation.as_str();
        self.inner
            .temporal_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
        if let Some(reason) = failure {
            self.inner
                .temporal_failures
                .with_label_values(&[operation, reason.as_str()])
                .inc();
        }
    }
}

/// `flowgate_temporal_up`, read from the link at each scrape so it is never stale.
struct TemporalUp {
    gauge: IntGauge,
    link: TemporalLink,
}

impl Collector for TemporalUp {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.gauge.set(i64::from(self.link.is_up()));
        self.gauge.collect()
    }
}
