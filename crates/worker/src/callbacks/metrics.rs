//! Delivery metrics, counted by the activities (workflow code replays, so it counts nothing).

use std::time::{Duration, SystemTime};

use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};

/// `flowgate_webhook_deliveries_total{outcome}` (delivered, failed, refused),
/// `flowgate_webhook_delivery_attempts_total{outcome}` (delivered, rejected, error, refused) and
/// `flowgate_webhook_delivery_latency_seconds` (from the close to the accepted attempt).
#[derive(Clone)]
pub(crate) struct WebhookMetrics {
    deliveries: IntCounterVec,
    attempts: IntCounterVec,
    latency: Histogram,
}

/// Outcomes of a delivery.
const DELIVERY_OUTCOMES: [&str; 3] = ["delivered", "failed", "refused"];
/// Outcomes of an attempt.
const ATTEMPT_OUTCOMES: [&str; 4] = ["delivered", "rejected", "error", "refused"];

impl WebhookMetrics {
    /// Registers the metrics in `registry`, every outcome's series at 0.
    pub(crate) fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self::unregistered()?;
        registry.register(Box::new(metrics.deliveries.clone()))?;
        registry.register(Box::new(metrics.attempts.clone()))?;
        registry.register(Box::new(metrics.latency.clone()))?;
        for outcome in DELIVERY_OUTCOMES {
            metrics.deliveries.with_label_values(&[outcome]);
        }
        for outcome in ATTEMPT_OUTCOMES {
            metrics.attempts.with_label_values(&[outcome]);
        }
        Ok(metrics)
    }

    fn unregistered() -> prometheus::Result<Self> {
        Ok(Self {
            deliveries: IntCounterVec::new(
                Opts::new(
                    "flowgate_webhook_deliveries_total",
                    "Completion webhook deliveries ended, by outcome (delivered, failed: given up after webhooks.retry_for, refused: destination not allowed).",
                ),
                &["outcome"],
            )?,
            attempts: IntCounterVec::new(
                Opts::new(
                    "flowgate_webhook_delivery_attempts_total",
                    "Completion webhook delivery attempts, by outcome (delivered, rejected: answered other than 2xx, error: no answer, refused).",
                ),
                &["outcome"],
            )?,
            latency: Histogram::with_opts(
                HistogramOpts::new(
                    "flowgate_webhook_delivery_latency_seconds",
                    "Time from a workflow's close to the delivery of its notification.",
                )
                .buckets(vec![
                    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0,
                    86400.0,
                ]),
            )?,
        })
    }

    /// Counts an attempt.
    pub(crate) fn attempt(&self, outcome: &str) {
        self.attempts.with_label_values(&[outcome]).inc();
    }

    /// Counts a delivery accepted, `closed_at_ms` after the close (ms since the epoch).
    pub(crate) fn delivered(&self, closed_at_ms: Option<u64>) {
        self.deliveries.with_label_values(&["delivered"]).inc();
        if let Some(closed) = closed_at_ms {
            let closed = SystemTime::UNIX_EPOCH + Duration::from_millis(closed);
            let latency = SystemTime::now().duration_since(closed).unwrap_or_default();
            self.latency.observe(latency.as_secs_f64());
        }
    }

    /// Counts a delivery given up (`failed`) or refused.
    pub(crate) fn given_up(&self, outcome: &str) {
        self.deliveries.with_label_values(&[outcome]).inc();
    }
}
