//! State shared by every handler.

use std::sync::Arc;

use flowgate_config::Settings;
use flowgate_temporal::TemporalLink;
use flowgate_workflows::{registry::Limits, shopping::ShoppingLimits};

use crate::{drain::Drain, gateway::Gateway, metrics::ApiMetrics, streams::StreamLimits};

/// Shared, cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The supervised Temporal connection (`temporal_connected`, fast 503s).
    pub link: TemporalLink,
    /// Temporal operations.
    pub gateway: Gateway,
    /// Prometheus metrics (served on the admin listener).
    pub metrics: ApiMetrics,
    /// What workflow inputs may hold, from the settings.
    pub limits: Limits,
    /// Bounds on open event streams.
    pub streams: StreamLimits,
    drain: Drain,
}

impl AppState {
    /// State over a started link, recording into `metrics`.
    pub(crate) fn new(settings: Arc<Settings>, link: TemporalLink, metrics: ApiMetrics) -> Self {
        let drain = Drain::new();
        let gateway = Gateway::new(
            link.clone(),
            settings.temporal.rpc_timeout,
            metrics.clone(),
            drain.clone(),
        );
        let limits = Limits {
            shopping: ShoppingLimits {
                max_items: settings.shopping.max_items,
                max_amount: settings.shopping.max_amount,
            },
        };
        let streams = StreamLimits::new(&settings.api.events, metrics.clone());
        Self {
            streams,
            settings,
            link,
            gateway,
            metrics,
            limits,
            drain,
        }
    }

    /// Marks the process as shutting down: readiness turns false, and every wait for a workflow
    /// or an update ends at once (requests arriving later do not wait).
    pub(crate) fn start_draining(&self) {
        self.drain.start();
    }

    /// Resolves when shutdown begins (at once if it has).
    pub(crate) async fn draining(&self) {
        self.drain.started().await;
    }

    /// Whether shutdown has begun.
    pub(crate) fn is_draining(&self) -> bool {
        self.drain.is_draining()
    }
}
