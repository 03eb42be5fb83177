//! Another application in the same namespace, the "shop": a frontend and a worker Service, each
//! serving `/metrics` with every metric name Flowgate's dashboards and alerts read — the HTTP
//! server conventions, a Temporal SDK worker's, process metrics, and even `flowgate_*` names, as a
//! hand-installed copy of Flowgate would — and values chosen to trip Flowgate's alerts and skew
//! its panels: slow histograms, 5xx answers, failing workflow tasks and webhooks, counters that
//! grow at every scrape, a Temporal that reads as unreachable, no workflow-task pollers.
//!
//! Flowgate's queries must never see any of it.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{Router, extract::State, routing::get};
use tokio::{net::TcpListener, task::JoinHandle};

/// Upper bounds of the shop's histograms: all its observations fall between 2.5 s and 5 s.
const BUCKETS: &[&str] = &[
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

/// Labelled series besides the unlabelled one each family has: `(family, labels)`.
const LABELLED: &[(&str, &str)] = &[
    (
        "http_server_request_duration_seconds",
        r#"http_request_method="POST",http_route="/checkout",http_response_status_code="500""#,
    ),
    (
        "temporal_workflow_task_execution_failed_total",
        r#"workflow_type="Checkout",failure_reason="NonDeterminismError""#,
    ),
    (
        "flowgate_webhook_delivery_attempts_total",
        r#"outcome="error""#,
    ),
    ("flowgate_webhook_deliveries_total", r#"outcome="failed""#),
];

/// The shop's two targets; served until dropped.
pub(super) struct Shop {
    /// `127.0.0.1:<port>` of the frontend's `/metrics`.
    pub(super) frontend: String,
    /// `127.0.0.1:<port>` of the shop worker's `/metrics`.
    pub(super) worker: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Shop {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[derive(Clone)]
struct Exposition {
    families: Arc<BTreeMap<String, Kind>>,
    scrapes: Arc<AtomicU64>,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Shop {
    /// Serves `names` (metric names as queries read them: `…_bucket`, `…_total`, …).
    pub(super) async fn start(names: &BTreeSet<String>) -> Self {
        let mut families = BTreeMap::new();
        for name in names {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix));
            let (family, kind) = match base {
                Some(base) => (base, Kind::Histogram),
                None if name.ends_with("_total") => (name.as_str(), Kind::Counter),
                None => (name.as_str(), Kind::Gauge),
            };
            families.insert(family.to_owned(), kind);
        }
        let families = Arc::new(families);
        let mut tasks = Vec::new();
        let mut addresses = Vec::new();
        for _ in 0..2 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addresses.push(listener.local_addr().unwrap().to_string());
            let app = Router::new()
                .route("/metrics", get(metrics))
                .with_state(Exposition {
                    families: families.clone(),
                    scrapes: Arc::new(AtomicU64::new(0)),
                });
            tasks.push(tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            }));
        }
        Self {
            frontend: addresses[0].clone(),
            worker: addresses[1].clone(),
            tasks,
        }
    }
}

async fn metrics(State(exposition): State<Exposition>) -> String {
    let n = exposition.scrapes.fetch_add(1, Ordering::Relaxed) + 1;
    let grown = 10 * n;
    let mut text = String::new();
    for (family, kind) in exposition.families.iter() {
        let mut label_sets = vec![String::new()];
        label_sets.extend(
            LABELLED
                .iter()
                .filter(|(f, _)| f == family)
                .map(|(_, labels)| (*labels).to_owned()),
        );
        let kind_name = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        writeln!(text, "# TYPE {family} {kind_name}").unwrap();
        for labels in &label_sets {
            let braced = |extra: &str| {
                let all: Vec<&str> = [labels.as_str(), extra]
                    .into_iter()
                    .filter(|l| !l.is_empty())
                    .collect();
                if all.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", all.join(","))
                }
            };
            match kind {
                Kind::Counter => writeln!(text, "{family}{} {grown}", braced("")).unwrap(),
                // Gauges named like health flags read as down; the others are well above
                // anything Flowgate reports in a test.
                Kind::Gauge => {
                    let value = if family.ends_with("_up") { 0 } else { 7 };
                    writeln!(text, "{family}{} {value}", braced("")).unwrap();
                }
                Kind::Histogram => {
                    for le in BUCKETS {
                        let count = if ["5", "10", "+Inf"].contains(le) {
                            grown
                        } else {
                            0
                        };
                        let le = format!("le=\"{le}\"");
                        writeln!(text, "{family}_bucket{} {count}", braced(&le)).unwrap();
                    }
                    writeln!(text, "{family}_sum{} {}", braced(""), 4 * grown).unwrap();
                    writeln!(text, "{family}_count{} {grown}", braced("")).unwrap();
                }
            }
        }
    }
    text
}
