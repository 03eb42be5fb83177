//! The API's Prometheus metrics, served as text at `/metrics` on the admin listener
//! (`metrics.api_admin_host:metrics.api_admin_port`), apart from the public port and without
//! authentication.
//!
//! HTTP metrics follow the OpenTelemetry HTTP semantic conventions as Prometheus spells them.
//! Every label value comes from a bounded set: routes are templates from [`MatchedPath`] (never
//! the raw path, which holds workflow ids; [`UNMATCHED_ROUTE`] when nothing matched), methods
//! outside the standard ones are `_OTHER`, and workflow ids appear nowhere.

use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use flowgate_config::MetricsSettings;
use flowgate_temporal::TemporalLink;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    core::{Collector, Desc},
    proto::MetricFamily,
};
use tokio::net::TcpListener;

use crate::error::ApiError;

/// `service` label of `flowgate_build_info`.
pub const SERVICE: &str = "flowgate-api";

/// `http_route` of requests that matched no route (404s of unknown paths).
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// Buckets of `http.server.request.duration` in the HTTP semantic conventions, in seconds.
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Buckets of Temporal calls: the HTTP ones, plus room for result long-polls, which last up to
/// `api.result_wait` (30 s by default).
pub const TEMPORAL_DURATION_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0,
];

/// How a request to start a workflow ended (`outcome` of `flowgate_workflow_starts_total`).
/// Requests rejected before Temporal is asked (validation, 4xx) are not starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// Temporal accepted the workflow.
    Started,
    /// The chosen workflow id was used before (409).
    AlreadyExists,
    /// Temporal was unreachable or did not answer in time (503). The workflow may still have
    /// started if the answer, not the request, was lost.
    Unavailable,
    /// Anything else (500).
    Error,
}

impl StartOutcome {
    /// Every outcome.
    pub const ALL: [Self; 4] = [
        Self::Started,
        Self::AlreadyExists,
        Self::Unavailable,
        Self::Error,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::AlreadyExists => "already_exists",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
        }
    }

    /// The outcome of a start that returned `result`.
    pub fn of<T>(result: &Result<T, ApiError>) -> Self {
        match result {
            Ok(_) => Self::Started,
            Err(ApiError::WorkflowAlreadyExists(_)) => Self::AlreadyExists,
            Err(ApiError::TemporalUnavailable(_)) => Self::Unavailable,
            Err(_) => Self::Error,
        }
    }
}

/// A Temporal call the API makes (`operation` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalOperation {
    /// Start a workflow.
    Start,
    /// Describe a workflow (status, times).
    Describe,
    /// Wait for a workflow's result (a long poll, bounded by the request's wait).
    GetResult,
}

impl TemporalOperation {
    /// Every operation.
    pub const ALL: [Self; 3] = [Self::Start, Self::Describe, Self::GetResult];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Describe => "describe",
            Self::GetResult => "get_result",
        }
    }
}

/// Why a Temporal call failed (`reason` label). Definite answers — no such workflow, id already
/// used — are not failures: Temporal answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// No connection, the reachability check failed, or Temporal said it is unavailable.
    Unavailable,
    /// No answer within `temporal.rpc_timeout` (start and describe only).
    Timeout,
    /// Anything else: an unexpected status or a result the API cannot read.
    Error,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [Self::Unavailable, Self::Timeout, Self::Error];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }

    /// The reason a call failed with `error`, if it is a failure; `hit_bound` when the call took
    /// its whole time budget.
    pub fn of(error: &ApiError, hit_bound: bool) -> Option<Self> {
        match error {
            ApiError::TemporalUnavailable(_) if hit_bound => Some(Self::Timeout),
            ApiError::TemporalUnavailable(_) => Some(Self::Unavailable),
            ApiError::Internal(_) => Some(Self::Error),
            _ => None,
        }
    }
}

/// The API's metrics. Cheap to clone.
#[derive(Clone)]
pub struct ApiMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http_duration: HistogramVec,
    http_active: IntGaugeVec,
    workflow_starts: IntCounterVec,
    temporal_duration: HistogramVec,
    temporal_failures: IntCounterVec,
}

impl ApiMetrics {
    /// Registers every metric; `flowgate_temporal_up` reads `link` at each scrape.
    pub fn new(link: TemporalLink) -> prometheus::Result<Self> {
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
        registry.register(Box::new(temporal_up))?;
        // Series that exist from the start read as 0, not "no data", in rates and alerts.
        let workflow_type = flowgate_workflows::shopping::WORKFLOW_TYPE;
        for outcome in StartOutcome::ALL {
            workflow_starts.with_label_values(&[workflow_type, outcome.as_str()]);
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
            }),
        })
    }

    /// Every metric, in the text exposition format.
    pub fn render(&self) -> prometheus::Result<String> {
        flowgate_telemetry::metrics::encode(&self.inner.registry)
    }

    /// The admin listener's routes: `GET /metrics`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/metrics", get(get_metrics))
            .with_state(self.clone())
    }

    /// Counts a request to start a workflow.
    pub fn workflow_start(&self, workflow_type: &str, outcome: StartOutcome) {
        self.inner
            .workflow_starts
            .with_label_values(&[workflow_type, outcome.as_str()])
            .inc();
    }

    /// Records one Temporal call that took `elapsed` and failed for `failure`, if it did.
    pub fn temporal_call(
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

/// Binds the admin listener at `metrics.api_admin_host:metrics.api_admin_port`. Synchronous, so
/// [`crate::Application::with_listener`] stays so; must run inside a tokio runtime.
pub fn bind_admin_listener(settings: &MetricsSettings) -> anyhow::Result<TcpListener> {
    let address = SocketAddr::new(settings.api_admin_host, settings.api_admin_port);
    let listener = std::net::TcpListener::bind(address).with_context(|| {
        format!("cannot listen on {address} (metrics.api_admin_host / metrics.api_admin_port)")
    })?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener).context("cannot register the admin listener with tokio")
}

/// Serves `/metrics` on `listener` until `stop` resolves, then lets open scrapes finish.
pub async fn serve_admin(
    listener: TcpListener,
    metrics: ApiMetrics,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "metrics listening (admin listener)");
    }
    let server = axum::serve(listener, metrics.router()).with_graceful_shutdown(stop);
    if let Err(error) = server.await {
        tracing::error!(%error, "the admin listener failed");
    }
}

/// Middleware measuring every request: in flight, and duration by method, route and status.
/// Layered onto the routes (so [`MatchedPath`] is known) outside everything else.
pub async fn track_http(
    State(metrics): State<ApiMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let in_flight = InFlight(
        metrics
            .inner
            .http_active
            .with_label_values(&[method, &route]),
    );
    in_flight.0.inc();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .inner
        .http_duration
        .with_label_values(&[method, &route, response.status().as_str()])
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

async fn get_metrics(State(metrics): State<ApiMetrics>) -> Response {
    match metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                flowgate_telemetry::metrics::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
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

    #[test]
    fn answers_are_not_failures_but_outages_and_bugs_are() {
        let unavailable = ApiError::TemporalUnavailable(flowgate_temporal::Unavailable {
            reason: "down".into(),
        });
        assert_eq!(
            FailureReason::of(&unavailable, false),
            Some(FailureReason::Unavailable)
        );
        assert_eq!(
            FailureReason::of(&unavailable, true),
            Some(FailureReason::Timeout)
        );
        assert_eq!(
            FailureReason::of(&ApiError::internal(anyhow::anyhow!("bug")), false),
            Some(FailureReason::Error)
        );
        assert_eq!(
            FailureReason::of(&ApiError::WorkflowNotFound("x".into()), false),
            None
        );
        assert_eq!(
            StartOutcome::of::<()>(&Err(ApiError::WorkflowAlreadyExists("x".into()))),
            StartOutcome::AlreadyExists
        );
    }
}
