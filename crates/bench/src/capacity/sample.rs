//! What one capacity phase measured, and the median of its repetitions.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use super::CapacityPath;
use crate::procstat::MachineTicks;

/// How a phase loads its path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum PhaseLoad {
    /// wrk with this many connections, each sending its next request when answered.
    Closed {
        /// Connections.
        connections: u32,
    },
    /// A fixed low rate, open loop.
    LowRate {
        /// Requests per second.
        rate: f64,
    },
    /// Half the highest throughput the closed phases of the same repetition reached.
    HalfCapacity {
        /// Requests per second.
        rate: f64,
    },
}

impl PhaseLoad {
    /// Whether `other` is the same phase (the half-capacity rate may differ between
    /// repetitions).
    pub(crate) fn same_kind(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Closed { connections: a }, Self::Closed { connections: b }) => a == b,
            (Self::LowRate { .. }, Self::LowRate { .. })
            | (Self::HalfCapacity { .. }, Self::HalfCapacity { .. }) => true,
            _ => false,
        }
    }

    /// The rate an open-loop phase offers.
    pub(crate) fn offered_rate(&self) -> Option<f64> {
        match self {
            Self::Closed { .. } => None,
            Self::LowRate { rate } | Self::HalfCapacity { rate } => Some(*rate),
        }
    }
}

impl fmt::Display for PhaseLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed { connections } => write!(f, "{connections} connections"),
            Self::LowRate { rate } => write!(f, "{rate:.0} req/s"),
            Self::HalfCapacity { rate } => write!(f, "half capacity ({rate:.0} req/s)"),
        }
    }
}

/// One repetition of one phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Sample {
    /// Successful requests per second.
    pub(crate) throughput: f64,
    /// Median latency, ms.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency, ms.
    pub(crate) p99_ms: f64,
    /// Requests completed (successful or not).
    pub(crate) requests: u64,
    /// Failed requests.
    pub(crate) errors: u64,
    /// The rate offered (open-loop phases).
    pub(crate) offered_rate: Option<f64>,
    /// CPU µs per request of the measured process (the API, or the floor).
    pub(crate) subject_cpu_us: f64,
    /// CPU µs per request of the null frontend.
    pub(crate) frontend_cpu_us: f64,
    /// CPU µs per request of the load generator (wrk, or this process).
    pub(crate) loadgen_cpu_us: f64,
    /// Share of the measured process's core in use.
    pub(crate) subject_core_busy: f64,
    /// Share of the measured process's core used by other processes.
    pub(crate) subject_core_other: f64,
    /// Share of the load core in use (load generator, null frontend, anything else).
    pub(crate) load_core_busy: f64,
    /// Share of the measured core's time the hypervisor gave to others.
    pub(crate) steal: f64,
    /// Whether other load or steal on the measured core was high enough to distrust the numbers.
    pub(crate) disturbed: bool,
}

impl Sample {
    /// From a phase's counts: `cpu_ns` of the subject, the null frontend and the load generator;
    /// `cores` the load core's and the subject core's ticks and the subject's own ticks.
    pub(crate) fn new(
        requests: u64,
        errors: u64,
        elapsed: Duration,
        (p50_ms, p99_ms): (f64, f64),
        cpu_ns: [u64; 3],
        (load_core, subject_core, subject_ticks): (MachineTicks, MachineTicks, u64),
        offered_rate: Option<f64>,
    ) -> Self {
        let per_request = |ns: u64| ns as f64 / 1000.0 / requests.max(1) as f64;
        let share = |ticks: u64, of: &MachineTicks| ticks as f64 / of.total.max(1) as f64;
        let subject_core_other = share(
            subject_core.busy.saturating_sub(subject_ticks),
            &subject_core,
        );
        let steal = share(subject_core.steal, &subject_core);
        Self {
            throughput: requests.saturating_sub(errors) as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms,
            p99_ms,
            requests,
            errors,
            offered_rate,
            subject_cpu_us: per_request(cpu_ns[0]),
            frontend_cpu_us: per_request(cpu_ns[1]),
            loadgen_cpu_us: per_request(cpu_ns[2]),
            subject_core_busy: share(subject_core.busy, &subject_core),
            subject_core_other,
            load_core_busy: share(load_core.busy, &load_core),
            steal,
            disturbed: subject_core_other > 0.10 || steal > 0.05,
        }
    }
}

/// A phase of one path and its repetitions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Phase {
    /// The path.
    pub(crate) path: CapacityPath,
    /// The load (the first repetition's rate, for half capacity).
    pub(crate) load: PhaseLoad,
    /// Each repetition.
    pub(crate) reps: Vec<Sample>,
}

impl Phase {
    /// Each figure's median over the undisturbed repetitions (over all of them when every one
    /// was disturbed, and then marked disturbed).
    pub(crate) fn median(&self) -> Sample {
        let mut pool: Vec<&Sample> = self.reps.iter().filter(|r| !r.disturbed).collect();
        if pool.is_empty() {
            pool = self.reps.iter().collect();
        }
        let median = |get: &dyn Fn(&Sample) -> f64| {
            let mut values: Vec<f64> = pool.iter().map(|s| get(s)).collect();
            values.sort_by(f64::total_cmp);
            match values.len() {
                0 => 0.0,
                n if n % 2 == 1 => values[n / 2],
                n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
            }
        };
        Sample {
            throughput: median(&|s| s.throughput),
            p50_ms: median(&|s| s.p50_ms),
            p99_ms: median(&|s| s.p99_ms),
            requests: median(&|s| s.requests as f64).round() as u64,
            errors: pool.iter().map(|s| s.errors).max().unwrap_or(0),
            offered_rate: self.reps[0]
                .offered_rate
                .map(|_| median(&|s| s.offered_rate.unwrap_or_default())),
            subject_cpu_us: median(&|s| s.subject_cpu_us),
            frontend_cpu_us: median(&|s| s.frontend_cpu_us),
            loadgen_cpu_us: median(&|s| s.loadgen_cpu_us),
            subject_core_busy: median(&|s| s.subject_core_busy),
            subject_core_other: median(&|s| s.subject_core_other),
            load_core_busy: median(&|s| s.load_core_busy),
            steal: median(&|s| s.steal),
            disturbed: pool.iter().all(|s| s.disturbed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(throughput: f64, cpu: f64, disturbed: bool) -> Sample {
        Sample {
            throughput,
            p50_ms: 1.0,
            p99_ms: 2.0,
            requests: 100,
            errors: 0,
            offered_rate: None,
            subject_cpu_us: cpu,
            frontend_cpu_us: 1.0,
            loadgen_cpu_us: 1.0,
            subject_core_busy: 1.0,
            subject_core_other: 0.0,
            load_core_busy: 0.5,
            steal: 0.0,
            disturbed,
        }
    }

    #[test]
    fn medians_leave_disturbed_repetitions_out() {
        let phase = Phase {
            path: CapacityPath::AsyncStart,
            load: PhaseLoad::Closed { connections: 16 },
            reps: vec![
                sample(100.0, 50.0, false),
                sample(10.0, 500.0, true),
                sample(120.0, 40.0, false),
            ],
        };
        let m = phase.median();
        assert_eq!(m.throughput, 110.0);
        assert_eq!(m.subject_cpu_us, 45.0);
        assert!(!m.disturbed);
    }

    #[test]
    fn a_sample_charges_the_subject_core_only_for_what_others_used() {
        let core = |busy, total| MachineTicks {
            busy,
            steal: 0,
            total,
        };
        let s = Sample::new(
            1000,
            0,
            Duration::from_secs(1),
            (1.0, 2.0),
            [300_000_000, 50_000_000, 20_000_000],
            (core(40, 100), core(50, 100), 30),
            None,
        );
        assert_eq!(s.subject_cpu_us, 300.0);
        assert_eq!(s.throughput, 1000.0);
        assert!((s.subject_core_other - 0.20).abs() < 1e-9);
        assert!(s.disturbed);
    }
}
