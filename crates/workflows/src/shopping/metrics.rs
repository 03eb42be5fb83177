//! Business metrics of the order activities (feature `worker`).
//!
//! Only activities count: workflow code is replayed, so a counter there would count again on
//! every replay.

use prometheus::{IntCounterVec, Opts, Registry};

use super::Fruit;

/// `flowgate_items_ordered_total{fruit}`: items ordered by the order activities, counted when an
/// activity completes. An activity that Temporal runs again after its completion was lost (its
/// worker died) counts again: at-least-once, like the activity itself.
#[derive(Debug, Clone)]
pub struct OrderMetrics {
    items_ordered: IntCounterVec,
}

impl OrderMetrics {
    /// Registers the counters in `registry`, every fruit's series at 0 so that rates and alerts
    /// see zero rather than no data.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self::unregistered()?;
        registry.register(Box::new(metrics.items_ordered.clone()))?;
        for fruit in Fruit::ALL {
            metrics.items_ordered.with_label_values(&[fruit.as_str()]);
        }
        Ok(metrics)
    }

    /// Counters registered nowhere, for activities whose counts nobody reads (tests).
    fn unregistered() -> prometheus::Result<Self> {
        let items_ordered = IntCounterVec::new(
            Opts::new(
                "flowgate_items_ordered_total",
                "Items ordered by the order activities, by fruit.",
            ),
            &["fruit"],
        )?;
        Ok(Self { items_ordered })
    }

    /// Counts `amount` items of `fruit` ordered.
    pub fn ordered(&self, fruit: Fruit, amount: u64) {
        self.items_ordered
            .with_label_values(&[fruit.as_str()])
            .inc_by(amount);
    }
}

impl Default for OrderMetrics {
    fn default() -> Self {
        Self::unregistered().expect("a valid metric name and labels")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_counted_by_fruit_from_zero() {
        use prometheus::{Encoder, TextEncoder};
        let registry = Registry::new();
        let metrics = OrderMetrics::register(&registry).unwrap();
        metrics.ordered(Fruit::Apple, 5);
        metrics.ordered(Fruit::Apple, 2);
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut text)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        for line in [
            "flowgate_items_ordered_total{fruit=\"APPLE\"} 7",
            "flowgate_items_ordered_total{fruit=\"BANANA\"} 0",
            "flowgate_items_ordered_total{fruit=\"ORANGE\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing: {text}");
        }
    }
}
