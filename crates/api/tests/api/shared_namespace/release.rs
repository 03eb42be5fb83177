//! One Flowgate release: the real `flowgate-api` and `flowgate-worker` binaries on their own task
//! queue, named and scraped as the chart's Services would be (`<release>-flowgate-api`, …).

use std::{path::Path, time::Duration};

use flowgate_testkit::{
    eventually,
    process::{Proc, Signal, free_port, workspace_binary},
    temporal_connected,
};
use reqwest::StatusCode;

const API_BIN: &str = env!("CARGO_BIN_EXE_flowgate-api");
const READY: Duration = Duration::from_secs(60);

/// A release's two processes.
pub(super) struct Release {
    /// The release name (`a`).
    pub(super) name: &'static str,
    /// Its task queue (`a-shopping`).
    pub(super) task_queue: String,
    /// `http://127.0.0.1:<port>` of its API.
    pub(super) base: String,
    /// `127.0.0.1:<port>` of the API's `/metrics`.
    pub(super) api_metrics: String,
    /// `127.0.0.1:<port>` of the worker's `/metrics`.
    pub(super) worker_metrics: String,
    api: Proc,
    worker: Option<Proc>,
}

impl Release {
    /// Starts the worker and the API against Temporal at `temporal`, and waits until the
    /// worker is ready and the API has reached Temporal.
    pub(super) async fn start(name: &'static str, dir: &Path, temporal: &str) -> Self {
        let task_queue = format!("{name}-shopping");
        let (api_port, admin_port, health_port) = (free_port(), free_port(), free_port());
        let common = [
            ("TEMPORAL_ADDRESS", temporal.to_owned()),
            ("FLOWGATE_WORKER__TASK_QUEUE", task_queue.clone()),
        ];
        let worker_env = [
            ("FLOWGATE_WORKER__HEALTH_HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_WORKER__HEALTH_PORT", health_port.to_string()),
        ];
        let worker = Proc::spawn(
            &workspace_binary(API_BIN, "flowgate-worker"),
            &[],
            &[&common[..], &worker_env[..]].concat(),
            dir.join(format!("{name}-worker.log")),
        );
        let api_env = [
            ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
            ("FLOWGATE_API__PORT", api_port.to_string()),
            ("FLOWGATE_METRICS__API_ADMIN_PORT", admin_port.to_string()),
        ];
        let api = Proc::spawn(
            Path::new(API_BIN),
            &[],
            &[&common[..], &api_env[..]].concat(),
            dir.join(format!("{name}-api.log")),
        );
        let release = Self {
            name,
            task_queue,
            base: format!("http://127.0.0.1:{api_port}"),
            api_metrics: format!("127.0.0.1:{admin_port}"),
            worker_metrics: format!("127.0.0.1:{health_port}"),
            api,
            worker: Some(worker),
        };
        let http = reqwest::Client::new();
        let ready = format!("http://{}/readyz", release.worker_metrics);
        eventually(READY, &format!("{name}'s worker to be ready"), || async {
            let response = http.get(&ready).send().await.ok()?;
            (response.status() == StatusCode::OK).then_some(())
        })
        .await;
        temporal_connected(&http, &release.base, READY).await;
        release
    }

    /// The Service names, which are the scrape jobs: `<release>-flowgate-api`, `-worker`.
    pub(super) fn jobs(&self) -> [String; 2] {
        [
            format!("{}-flowgate-api", self.name),
            format!("{}-flowgate-worker", self.name),
        ]
    }

    /// Stops the worker (SIGTERM, then a clean exit).
    pub(super) async fn stop_worker(&mut self) {
        let mut worker = self.worker.take().expect("the worker runs");
        worker.signal(Signal::SIGTERM);
        let status = worker.wait_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "{status:?}\n{}", worker.log_text());
    }

    /// What both processes logged.
    pub(super) fn logs(&self) -> String {
        format!(
            "--- {0}-api ---\n{1}\n--- {0}-worker ---\n{2}",
            self.name,
            self.api.log_text(),
            self.worker.as_ref().map(Proc::log_text).unwrap_or_default()
        )
    }
}
