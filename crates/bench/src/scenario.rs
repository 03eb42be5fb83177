//! What a phase measured, and the summary of its repetitions.

use std::time::Duration;

use serde::Serialize;

/// Sorted request latencies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Latencies(Vec<Duration>);

impl Latencies {
    /// From unsorted samples.
    pub(crate) fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// How many.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`th percentile (nearest rank), in ms.
    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.0.len()) - 1;
        self.0[i].as_secs_f64() * 1000.0
    }
}

/// Where the load went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Target {
    /// Through Flowgate's API.
    Flowgate,
    /// Temporal's built-in HTTP API on the dev server.
    TemporalHttp,
    /// Temporal's gRPC API through the SDK client.
    TemporalGrpc,
}

impl Target {
    /// For tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Flowgate => "Flowgate",
            Self::TemporalHttp => "Temporal HTTP API",
            Self::TemporalGrpc => "Temporal gRPC (SDK)",
        }
    }
}

/// One repetition of one scenario.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Rep {
    /// Completed requests per second.
    pub(crate) throughput: f64,
    /// Median latency, ms.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency, ms.
    pub(crate) p99_ms: f64,
    /// Requests completed (successful or not).
    pub(crate) requests: u64,
    /// Failed requests.
    pub(crate) errors: u64,
    /// errors / requests.
    pub(crate) error_rate: f64,
    /// CPU ms per completed request of the API process (Flowgate only).
    pub(crate) api_cpu_ms: Option<f64>,
    /// CPU ms per completed request of the worker.
    pub(crate) worker_cpu_ms: f64,
    /// CPU ms per completed request of the Temporal dev server.
    pub(crate) temporal_cpu_ms: f64,
    /// CPU ms per completed request of the load generator (wrk, or this process for gRPC).
    pub(crate) loadgen_cpu_ms: f64,
    /// Share of the machine's CPU used by processes other than the measured ones.
    pub(crate) other_load: f64,
    /// Share of the machine's CPU time stolen by the hypervisor.
    pub(crate) steal: f64,
    /// Whether other load or steal was high enough to distrust the numbers.
    pub(crate) disturbed: bool,
}

/// A scenario and its repetitions.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScenarioResult {
    /// `async-start`, `sync-start`, `result`.
    pub(crate) scenario: &'static str,
    /// Where the load went.
    pub(crate) target: Target,
    /// Concurrent connections (or tasks).
    pub(crate) concurrency: u32,
    /// Items in each shopping list.
    pub(crate) items: u32,
    /// Each repetition.
    pub(crate) reps: Vec<Rep>,
    /// The median repetition by throughput (undisturbed ones preferred).
    pub(crate) median: Rep,
}

impl ScenarioResult {
    /// Summarises `reps` (at least one).
    pub(crate) fn new(
        scenario: &'static str,
        target: Target,
        concurrency: u32,
        items: u32,
        reps: Vec<Rep>,
    ) -> Self {
        let mut pool: Vec<&Rep> = reps.iter().filter(|r| !r.disturbed).collect();
        if pool.is_empty() {
            pool = reps.iter().collect();
        }
        pool.sort_by(|a, b| a.throughput.total_cmp(&b.throughput));
        let median = pool[pool.len() / 2].clone();
        Self {
            scenario,
            target,
            concurrency,
            items,
            reps,
            median,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let l = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(l.percentile_ms(50.0), 50.0);
        assert_eq!(l.percentile_ms(99.0), 99.0);
        assert_eq!(l.percentile_ms(100.0), 100.0);
        assert_eq!(Latencies::default().percentile_ms(50.0), 0.0);
    }
}
