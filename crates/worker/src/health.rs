//! The worker's probe endpoint: `GET /livez`, `GET /readyz` and `GET /metrics` (Prometheus text,
//! see [`crate::metrics`]) on a small HTTP/1 server, so the worker never compiles a web framework.

use std::{convert::Infallible, sync::Arc};

use bytes::Bytes;
use flowgate_temporal::{LinkState, TemporalLink};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::watch};

use crate::metrics::WorkerMetrics;

/// Where the worker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the first connection to Temporal.
    Connecting,
    /// Polling the task queue.
    Running,
    /// Shutting down: no new tasks, running ones finish.
    Draining,
}

struct Probe {
    phase: watch::Receiver<Phase>,
    link: TemporalLink,
    metrics: WorkerMetrics,
}

/// Serves probes and metrics on `listener` until the task is aborted.
pub(crate) async fn serve(
    listener: TcpListener,
    phase: watch::Receiver<Phase>,
    link: TemporalLink,
    metrics: WorkerMetrics,
) {
    let probe = Arc::new(Probe {
        phase,
        link,
        metrics,
    });
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let probe = probe.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let probe = probe.clone();
                async move {
                    let is_read =
                        request.method() == Method::GET || request.method() == Method::HEAD;
                    if is_read && request.uri().path() == "/metrics" {
                        return Ok::<_, Infallible>(metrics_response(&probe.metrics).await);
                    }
                    Ok(answer(&probe, &request))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(probe: &Probe, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "only GET is served here",
        );
    }
    match request.uri().path() {
        "/livez" => json(StatusCode::OK, r#"{"status":"ok"}"#),
        "/readyz" => match (*probe.phase.borrow(), probe.link.state()) {
            (Phase::Running, LinkState::Up) => json(StatusCode::OK, r#"{"status":"ready"}"#),
            (Phase::Draining, _) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "shutting down",
            ),
            (_, LinkState::Down { error }) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                &format!("Temporal is unreachable: {error}"),
            ),
            _ => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "connecting to Temporal",
            ),
        },
        _ => problem(
            StatusCode::NOT_FOUND,
            "route-not-found",
            "the worker serves /livez, /readyz and /metrics",
        ),
    }
}

async fn metrics_response(metrics: &WorkerMetrics) -> Response<Full<Bytes>> {
    match metrics.render().await {
        Ok(text) => {
            let mut response = Response::new(Full::new(Bytes::from(text)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static(flowgate_telemetry::metrics::CONTENT_TYPE),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "cannot encode the metrics");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "the metrics cannot be encoded",
            )
        }
    }
}

fn json(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn problem(status: StatusCode, code: &str, detail: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "type": format!("urn:flowgate:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    response
}
