//! The admin listener, apart from the public port: `GET /metrics`, and the probes.

use std::{future::Future, net::SocketAddr};

use anyhow::Context;
use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use flowgate_config::MetricsSettings;
use tokio::net::TcpListener;

use crate::{routes::health, state::AppState};

/// The admin listener's routes: `/metrics`, and the probes `/livez` and `/readyz` as on the
/// public port. Probes are served here too so that a client holding every public connection
/// (`api.max_connections`) cannot get the pod restarted: the chart probes this port.
pub(crate) fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(get_metrics))
        .route("/livez", get(health::get_livez))
        .route("/readyz", get(health::get_readyz))
        .with_state(state)
}

/// Binds the admin listener at `metrics.api_admin_host:metrics.api_admin_port`. Synchronous, so
/// [`crate::Application::with_listener`] stays so; must run inside a tokio runtime.
pub(crate) fn bind_admin_listener(settings: &MetricsSettings) -> anyhow::Result<TcpListener> {
    let address = SocketAddr::new(settings.api_admin_host, settings.api_admin_port);
    let listener = std::net::TcpListener::bind(address).with_context(|| {
        format!("cannot listen on {address} (metrics.api_admin_host / metrics.api_admin_port)")
    })?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener).context("cannot register the admin listener with tokio")
}

/// Serves `/metrics` on `listener` until `stop` resolves, then lets open scrapes finish.
pub(crate) async fn serve_admin(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "metrics listening (admin listener)");
    }
    let server = axum::serve(listener, router).with_graceful_shutdown(stop);
    if let Err(error) = server.await {
        tracing::error!(%error, "the admin listener failed");
    }
}

async fn get_metrics(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
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
