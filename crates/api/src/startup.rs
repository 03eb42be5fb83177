//! Building and running the API: one path for `main` and for tests.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::{Router, extract::DefaultBodyLimit};
use flowgate_config::Settings;
use flowgate_temporal::{TemporalLink, TraceContextInterceptor};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::SetRequestIdLayer;

use crate::{
    access::Gate,
    around::AroundLayer,
    auth::Authenticator,
    error::{CatchPanicLayer, RenderProblems},
    metrics::{ApiMetrics, TrackHttp},
    protect::{self, headers::AnswerHeaders},
    routes,
    serve::ConnectionLimits,
    state::AppState,
    trace,
};

/// A bound, ready-to-run API.
pub struct Application {
    listener: TcpListener,
    admin: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Binds `api.host:api.port` and starts connecting to Temporal in the background.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let address = SocketAddr::new(settings.api.host, settings.api.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (api.host / api.port)"))?;
        Self::with_listener(settings, listener)
    }

    /// Uses an already bound listener (tests bind port 0); binds the admin listener
    /// (`metrics.api_admin_host:metrics.api_admin_port`) itself.
    pub fn with_listener(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let admin = crate::metrics::bind_admin_listener(&settings.metrics)?;
        // Workflows started by a request join its trace (a no-op while tracing is off).
        let resolved = flowgate_temporal::resolve(&settings.temporal)?
            .with_interceptor(Arc::new(TraceContextInterceptor::new()));
        let link = TemporalLink::start(resolved, &settings.temporal);
        let metrics = ApiMetrics::new(link.clone()).context("cannot register the metrics")?;
        let state = AppState::new(Arc::new(settings), link, metrics);
        let body_limit = state.settings.api.body_limit_bytes;
        let authenticator =
            Authenticator::from_settings(&state.settings.auth, state.metrics.clone());
        // Authentication, limits and permissions are per route (`access`).
        let gate = Gate::new(state.clone(), authenticator);
        // Outermost first: HTTP metrics see every request's whole time and final status; the
        // request id exists before the span opens and is echoed back on every response;
        // security and CORS headers go on every answer, preflights are answered before any
        // limit; problems are rendered with the request id (and the trace id); panics become
        // problems too. One `layer` call: axum boxes each call's stack once per request.
        let router = routes::router(&gate, state.clone()).layer(
            ServiceBuilder::new()
                .layer(AroundLayer(TrackHttp(state.metrics.clone())))
                .layer(SetRequestIdLayer::x_request_id(trace::NewRequestId))
                .layer(trace::layer())
                .layer(AroundLayer(AnswerHeaders))
                .option_layer(protect::cors::layer(&state.settings.cors))
                .layer(AroundLayer(RenderProblems))
                .layer(CatchPanicLayer)
                .layer(DefaultBodyLimit::max(body_limit)),
        );
        Ok(Self {
            listener,
            admin,
            router,
            state,
        })
    }

    /// The supervised Temporal connection: `connected()` resolves once the API has reached
    /// Temporal (the local launcher waits for it before saying Flowgate is running).
    pub fn temporal_link(&self) -> TemporalLink {
        self.state.link.clone()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The admin listener's address (`/metrics`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then drains: readiness turns false and every request
    /// waiting for a workflow or an update is answered at once (202 "running", or 504 for an
    /// update), as are waits arriving later; the listener stays open for `api.shutdown_delay`,
    /// then closes, and in-flight requests get `api.shutdown_grace` to finish (at least
    /// `api.request_timeout`, which bounds every request, so none is cut).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            admin,
            router,
            state,
        } = self;
        // The admin listener serves scrapes through the drain too; it stops when this returns
        // (the sender is dropped on every path out).
        let (_stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(crate::metrics::serve_admin(
            admin,
            crate::metrics::admin_router(state.clone()),
            async move {
                let _ = admin_stopped.await;
            },
        ));
        let api = state.settings.api.clone();
        let (closing_tx, closing_rx) = tokio::sync::oneshot::channel::<()>();
        let (drain_started_tx, drain_started_rx) = tokio::sync::oneshot::channel::<()>();
        let drain_state = state.clone();
        tokio::spawn(async move {
            shutdown.await;
            drain_state.start_draining();
            tracing::info!(
                delay_ms = api.shutdown_delay.as_millis() as u64,
                "draining: readiness is now false"
            );
            let _ = drain_started_tx.send(());
            tokio::time::sleep(api.shutdown_delay).await;
            let _ = closing_tx.send(());
        });
        tracing::info!(address = %listener.local_addr()?, "HTTP API listening");
        let limits = ConnectionLimits {
            idle_timeout: api.idle_timeout,
            max_connections: api.max_connections,
        };
        let server = crate::serve::serve(listener, router, limits, async move {
            let _ = closing_rx.await;
            tracing::info!("listener closed; finishing in-flight requests");
        });
        let grace = api.shutdown_grace;
        let mut server = std::pin::pin!(server);
        tokio::select! {
            () = &mut server => return Ok(()),
            _ = drain_started_rx => {}
        }
        let deadline = api.shutdown_delay + grace;
        match tokio::time::timeout(deadline, server).await {
            Ok(()) => {}
            Err(_) => tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "in-flight requests did not finish within the grace period; dropping them"
            ),
        }
        tracing::info!("HTTP API stopped");
        Ok(())
    }
}
