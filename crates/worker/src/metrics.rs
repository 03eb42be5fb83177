//! The worker's Prometheus metrics, served at `/metrics` on the probe listener
//! (`worker.health_host:worker.health_port`): one scrape target for all the worker exports.
//!
//! Two sources make one answer. Our registry holds build info, process metrics and the business
//! metrics of the activities. The Temporal SDK's metrics (worker, workflow, activity and client
//! RPC metrics) are recorded by the SDK's own Prometheus exporter, which keeps a private registry
//! behind its own HTTP listener and offers no way to gather it. Implementing the SDK's
//! `CoreMeter` over our registry instead would mean re-implementing its instrument kinds, unit
//! and suffix rules and default buckets, and following them on every SDK upgrade; so the
//! exporter listens on 127.0.0.1 at a random port, unreachable from outside, and each scrape of
//! `/metrics` answers our registry's text followed by the exporter's, fetched over loopback. The
//! names cannot clash (`flowgate_*` and `process_*` here, `temporal_*` there), so the two texts
//! make one valid exposition.
//!
//! The SDK exporter is configured for Prometheus conventions: counters end in `_total`,
//! durations are in seconds and histograms carry their unit (`_seconds`).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use bytes::Bytes;
use flowgate_workflows::shopping::OrderMetrics;

use crate::callbacks::WebhookMetrics;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use prometheus::{IntGauge, Registry};
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, metrics::CoreMeter, metrics::TemporalMeter,
    start_prometheus_metric_exporter, telemetry_init,
};
use tokio::{net::TcpStream, task::AbortHandle};

/// `service` label of `flowgate_build_info`.
pub(crate) const SERVICE: &str = "flowgate-worker";

/// Longest wait for the SDK exporter's text during a scrape.
const SDK_FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// The worker's metrics. Cheap to clone; the SDK exporter stops when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct WorkerMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    orders: OrderMetrics,
    webhooks: WebhookMetrics,
    sdk_up: IntGauge,
    sdk_meter: Arc<dyn CoreMeter>,
    sdk_addr: SocketAddr,
    sdk_server: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.sdk_server.abort();
    }
}

impl WorkerMetrics {
    /// Builds the registry and starts the SDK's exporter on loopback. Must run inside a tokio
    /// runtime.
    pub(crate) fn start() -> anyhow::Result<Self> {
        let registry = flowgate_telemetry::metrics::registry(SERVICE)?;
        let orders = OrderMetrics::register(&registry)?;
        let webhooks = WebhookMetrics::register(&registry)?;
        let sdk_up = IntGauge::new(
            "flowgate_worker_sdk_metrics_up",
            "1 when the Temporal SDK's metrics were part of this scrape, else 0.",
        )?;
        registry.register(Box::new(sdk_up.clone()))?;
        let exporter = start_prometheus_metric_exporter(
            PrometheusExporterOptions::builder()
                .socket_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
                .counters_total_suffix(true)
                .use_seconds_for_durations(true)
                .unit_suffix(true)
                .build(),
        )
        .context("cannot start the Temporal SDK's metrics exporter")?;
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                orders,
                webhooks,
                sdk_up,
                sdk_meter: exporter.meter,
                sdk_addr: exporter.bound_addr,
                sdk_server: exporter.abort_handle,
            }),
        })
    }

    /// Telemetry options for the SDK runtime: its metrics go to the exporter.
    pub(crate) fn telemetry_options(&self) -> TelemetryOptions {
        TelemetryOptions::builder()
            .metrics(self.inner.sdk_meter.clone())
            .build()
    }

    /// The meter for the Temporal client's connection (`ConnectionOptions::metrics_meter`), so
    /// its RPC metrics (`temporal_request_total`, `temporal_request_latency_seconds`, …) are
    /// exported too: the same prefix and labels the SDK runtime gives its own.
    pub(crate) fn client_meter(&self) -> anyhow::Result<TemporalMeter> {
        telemetry_init(self.telemetry_options())
            .context("cannot set up the Temporal client's metrics")?
            .get_temporal_metric_meter()
            .context("the Temporal client's metrics have no meter")
    }

    /// The business metrics the order activities count into.
    pub(crate) fn orders(&self) -> OrderMetrics {
        self.inner.orders.clone()
    }

    /// The metrics the webhook delivery activities count into.
    pub(crate) fn webhooks(&self) -> WebhookMetrics {
        self.inner.webhooks.clone()
    }

    /// Everything, in the text exposition format: our registry, then the SDK's metrics. Without
    /// the SDK's part (logged), `flowgate_worker_sdk_metrics_up` is 0 and the rest is served.
    pub(crate) async fn render(&self) -> Result<String, prometheus::Error> {
        let sdk = match tokio::time::timeout(SDK_FETCH_TIMEOUT, fetch(self.inner.sdk_addr)).await {
            Ok(Ok(text)) => Some(text),
            Ok(Err(error)) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot read the Temporal SDK's metrics"
                );
                None
            }
            Err(_) => {
                tracing::warn!("the Temporal SDK's metrics did not answer in time");
                None
            }
        };
        self.inner.sdk_up.set(i64::from(sdk.is_some()));
        let mut text = flowgate_telemetry::metrics::encode(&self.inner.registry)?;
        if let Some(sdk) = sdk {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&sdk);
        }
        Ok(text)
    }
}

/// `GET /metrics` of the SDK exporter at `address`, over one HTTP/1 connection.
async fn fetch(address: SocketAddr) -> anyhow::Result<String> {
    let stream = TcpStream::connect(address).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    let connection = tokio::spawn(connection);
    let request = Request::get("/metrics")
        .header(header::HOST, address.to_string())
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    anyhow::ensure!(
        response.status() == StatusCode::OK,
        "the exporter answered {}",
        response.status()
    );
    let body = response.into_body().collect().await?.to_bytes();
    connection.abort();
    Ok(String::from_utf8(body.to_vec())?)
}
