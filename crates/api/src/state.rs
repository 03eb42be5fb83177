//! State shared by every handler.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use flowgate_config::Settings;
use flowgate_temporal::TemporalLink;

use crate::{gateway::Gateway, metrics::ApiMetrics};

/// Shared, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The supervised Temporal connection (readiness).
    pub link: TemporalLink,
    /// Temporal operations.
    pub gateway: Gateway,
    /// Prometheus metrics (served on the admin listener).
    pub metrics: ApiMetrics,
    draining: Arc<AtomicBool>,
}

impl AppState {
    /// State over a started link, recording into `metrics`.
    pub fn new(settings: Arc<Settings>, link: TemporalLink, metrics: ApiMetrics) -> Self {
        let gateway = Gateway::new(link.clone(), settings.temporal.rpc_timeout, metrics.clone());
        Self {
            settings,
            link,
            gateway,
            metrics,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Marks the process as shutting down: readiness turns false.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
