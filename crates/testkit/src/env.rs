//! One isolated Flowgate stack per test.

use std::{net::SocketAddr, time::Duration};

use flowgate_api::Application;
use flowgate_config::Settings;
use flowgate_devserver::{DevServer, DevServerOptions, temporal_cli};
use flowgate_worker::WorkerApp;
use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
};

/// Configures a [`TestEnv`] before it starts.
pub struct TestEnvBuilder {
    settings: Settings,
    worker: bool,
    api: bool,
    dynamic_config: Vec<(String, String)>,
}

/// A real Temporal dev server with the real worker and API, on free ports.
pub struct TestEnv {
    /// The Temporal dev server (kill/restart it to simulate outages).
    pub temporal: DevServer,
    /// Settings the worker and API were started with.
    pub settings: Settings,
    /// HTTP client for the API.
    pub http: reqwest::Client,
    api: Option<RunningApi>,
    worker: Option<RunningWorker>,
    dir: tempfile::TempDir,
}

struct RunningApi {
    addr: SocketAddr,
    admin: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

struct RunningWorker {
    health: SocketAddr,
    stop: watch::Sender<bool>,
    done: oneshot::Receiver<anyhow::Result<()>>,
}

/// Defaults for tests: the embedded defaults, quick health checks, short waits.
fn test_settings() -> Settings {
    let mut settings = flowgate_config::load_from(None, &Default::default())
        .expect("the embedded defaults are valid");
    settings.api.host = [127, 0, 0, 1].into();
    settings.api.port = 0;
    settings.api.result_wait = Duration::from_secs(20);
    // What validation asks of a file: request_timeout ≥ result_wait + 5s, grace ≥ request_timeout.
    settings.api.request_timeout = Duration::from_secs(25);
    settings.api.shutdown_grace = Duration::from_secs(25);
    settings.metrics.api_admin_host = [127, 0, 0, 1].into();
    settings.metrics.api_admin_port = 0;
    settings.worker.health_host = [127, 0, 0, 1].into();
    settings.worker.health_port = 0;
    settings.worker.shutdown_grace = Duration::from_secs(10);
    settings
}

impl TestEnvBuilder {
    /// Adjusts the settings the worker and API start with.
    pub fn settings(mut self, adjust: impl FnOnce(&mut Settings)) -> Self {
        adjust(&mut self.settings);
        self
    }

    /// Starts no worker (workflows stay running).
    pub fn without_worker(mut self) -> Self {
        self.worker = false;
        self
    }

    /// Sets a Temporal dynamic-config value on the dev server (`value` in YAML, e.g. `"5s"`).
    pub fn temporal_dynamic_config(mut self, key: &str, value: &str) -> Self {
        self.dynamic_config.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts no in-process API (tests that run the API binary instead).
    pub fn without_api(mut self) -> Self {
        self.api = false;
        self
    }

    /// Starts Temporal, the worker and the API, and waits until the API is ready and has
    /// reached Temporal.
    pub async fn start(self) -> TestEnv {
        crate::init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let cli = temporal_cli::provision_async().await.expect("Temporal CLI");
        let temporal = DevServer::start(DevServerOptions {
            db_file: Some(dir.path().join("temporal.db")),
            log_file: Some(dir.path().join("temporal.log")),
            // Durable across a killed server process (what outage tests need), without an fsync
            // per write, which would make the server, not Flowgate, the bottleneck under load.
            extra_args: ["journal_mode=WAL", "synchronous=OFF"]
                .iter()
                .flat_map(|p| ["--sqlite-pragma".to_owned(), (*p).to_owned()])
                .chain(self.dynamic_config.iter().flat_map(|(key, value)| {
                    [
                        "--dynamic-config-value".to_owned(),
                        format!("{key}={value}"),
                    ]
                }))
                .collect(),
            ..DevServerOptions::new(cli)
        })
        .await
        .expect("Temporal dev server starts");
        let mut settings = self.settings;
        settings.temporal.address = Some(temporal.address());
        let mut env = TestEnv {
            temporal,
            settings,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
            api: None,
            worker: None,
            dir,
        };
        if self.worker {
            env.start_worker().await;
        }
        if self.api {
            env.start_api().await;
            env.wait_ready().await;
        }
        env
    }
}

impl TestEnv {
    /// A builder with test defaults.
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder {
            settings: test_settings(),
            worker: true,
            api: true,
            dynamic_config: Vec::new(),
        }
    }

    /// Starts everything with test defaults.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Directory private to this test (database, logs).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// `http://127.0.0.1:<port><path>` of the API.
    pub fn url(&self, path: &str) -> String {
        let api = self.api.as_ref().expect("the API is running");
        format!("http://{}{path}", api.addr)
    }

    /// The API's public listener address, for raw TCP.
    pub fn api_addr(&self) -> SocketAddr {
        self.api.as_ref().expect("the API is running").addr
    }

    /// The API's admin listener address (`/metrics`).
    pub fn api_admin_addr(&self) -> SocketAddr {
        self.api.as_ref().expect("the API is running").admin
    }

    /// `http://127.0.0.1:<port><path>` of the API's admin listener (`/metrics`).
    pub fn api_admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api_admin_addr())
    }

    /// The worker's probe address (`/livez`, `/readyz`, `/metrics`).
    pub fn worker_health(&self) -> SocketAddr {
        self.worker.as_ref().expect("the worker is running").health
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET reaches the API")
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST reaches the API")
    }

    /// Starts the API in this runtime on a free port.
    pub async fn start_api(&mut self) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
        let app = Application::with_listener(self.settings.clone(), listener).expect("API builds");
        let addr = app.local_addr();
        let admin = app.admin_addr();
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        self.api = Some(RunningApi {
            addr,
            admin,
            stop,
            task,
        });
    }

    /// Shuts the API down gracefully and returns how it ended.
    pub async fn stop_api(&mut self) -> anyhow::Result<()> {
        let api = self.api.take().expect("the API is running");
        let _ = api.stop.send(true);
        api.task.await?
    }

    /// Starts the worker on its own thread (the SDK worker is not `Send`).
    pub async fn start_worker(&mut self) {
        let settings = self.settings.clone();
        let (addr_tx, addr_rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let (stop, mut stopped) = watch::channel(false);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("worker runtime");
            let result = runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let app = WorkerApp::with_health_listener(settings, listener);
                let _ = addr_tx.send(app.health_addr());
                app.run_until(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
            });
            let _ = done_tx.send(result);
        });
        let health = addr_rx.await.expect("worker binds its probe port");
        self.worker = Some(RunningWorker { health, stop, done });
    }

    /// Drains and stops the worker; returns how it ended.
    pub async fn stop_worker(&mut self) -> anyhow::Result<()> {
        let worker = self.worker.take().expect("the worker is running");
        let _ = worker.stop.send(true);
        worker.done.await?
    }

    /// Waits until the API is ready (`/readyz` 200) and has reached Temporal (`GET /` says
    /// `temporal_connected`): readiness alone does not wait for Temporal.
    pub async fn wait_ready(&self) {
        crate::eventually(
            Duration::from_secs(30),
            "the API to become ready",
            || async {
                let response = self.http.get(self.url("/readyz")).send().await.ok()?;
                response.status().is_success().then_some(())
            },
        )
        .await;
        self.wait_temporal_connected(true).await;
    }

    /// Waits until `GET /` reports `temporal_connected` as `connected` (at most 30 s).
    pub async fn wait_temporal_connected(&self, connected: bool) {
        crate::eventually(
            Duration::from_secs(30),
            &format!("GET / to say temporal_connected: {connected}"),
            || async {
                let root = crate::wait::json_at(&self.http, &self.url("/")).await?;
                (root["temporal_connected"] == connected).then_some(())
            },
        )
        .await;
    }

    /// A plain Temporal client on the same server, for what the API does not do (terminating,
    /// starting workflows with input the API would reject).
    pub async fn temporal_client(&self) -> temporalio_client::Client {
        let url = format!("http://{}", self.temporal.address());
        let connection = temporalio_client::ConnectionOptions::new(
            temporalio_client::Url::parse(&url).expect("valid URL"),
        )
        .build();
        temporalio_client::Client::connect(
            connection,
            temporalio_client::ClientOptions::new("default").build(),
        )
        .await
        .expect("Temporal client connects")
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(api) = &self.api {
            let _ = api.stop.send(true);
        }
        if let Some(worker) = &self.worker {
            let _ = worker.stop.send(true);
        }
    }
}
