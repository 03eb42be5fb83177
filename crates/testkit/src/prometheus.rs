//! A real Prometheus server for tests: the `prometheus` binary (Debian's `prometheus` package),
//! started by the test itself — never as a system service — with a generated configuration that
//! scrapes the given targets every second, and asked over its HTTP API.
//!
//! Where the binary is missing, tests skip with `skipping: prometheus not found`, unless
//! `FLOWGATE_REQUIRE_PROMETHEUS=1` (CI), which makes that a failure.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde_json::Value;

/// Set to `1` to make a missing `prometheus` binary a test failure instead of a skip.
pub const REQUIRE_ENV: &str = "FLOWGATE_REQUIRE_PROMETHEUS";

/// Overrides where the `prometheus` binary is (default: `prometheus` on `PATH`).
pub const BINARY_ENV: &str = "FLOWGATE_PROMETHEUS_BIN";

/// The `prometheus` binary; `None` (after saying so) when it is missing and not required.
pub fn binary_or_skip() -> Option<PathBuf> {
    let found = match std::env::var_os(BINARY_ENV) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("prometheus"))
                .find(|p| p.is_file())
        }),
    };
    if found.is_none() {
        flowgate_devserver::skip::missing_tool(
            "prometheus",
            "apt-get install prometheus",
            REQUIRE_ENV,
        );
    }
    found
}

/// One series of an instant query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels, `__name__` included when the expression keeps it.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A running Prometheus server; killed when dropped.
pub struct Prometheus {
    child: tokio::process::Child,
    base: String,
    http: reqwest::Client,
    log: PathBuf,
}

impl Prometheus {
    /// Starts `bin` with its configuration and database under `dir`, scraping each
    /// `(job, address)` at `/metrics` every second, and waits until it is ready.
    pub async fn start(bin: &Path, dir: &Path, targets: &[(&str, SocketAddr)]) -> Self {
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n",
        );
        for (job, address) in targets {
            config.push_str(&format!(
                "  - job_name: {job}\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['{address}']\n"
            ));
        }
        Self::start_with_config(bin, dir, &config).await
    }

    /// Starts `bin` in `env`'s directory, scraping the API's admin listener (job
    /// `flowgate-api`) and the worker's probe listener (job `flowgate-worker`).
    pub async fn scraping_flowgate(bin: &Path, env: &crate::TestEnv) -> Self {
        Self::start(
            bin,
            env.dir(),
            &[
                ("flowgate-api", env.api_admin_addr()),
                ("flowgate-worker", env.worker_health()),
            ],
        )
        .await
    }

    /// Starts `bin` with `config` (the text of `prometheus.yml`, written into `dir`, so relative
    /// paths in it — rule files, file discovery — are files in `dir`) and its database under
    /// `dir`, and waits until it is ready.
    pub async fn start_with_config(bin: &Path, dir: &Path, config: &str) -> Self {
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write prometheus.yml");
        let port = crate::process::free_port();
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = tokio::process::Command::new(bin)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
            log,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", server.log_text());
            }
            let ready = server.http.get(server.url("/-/ready")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "prometheus did not become ready:\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The answer to an instant query of `promql`, evaluated now.
    pub async fn query(&self, promql: &str) -> Vec<Series> {
        self.instant(&[("query", promql)]).await
    }

    /// The answer to an instant query of `promql`, evaluated at `time` (Unix seconds): the same
    /// `time` gives the same answer, however late the query is asked.
    pub async fn query_at(&self, promql: &str, time: f64) -> Vec<Series> {
        self.instant(&[("query", promql), ("time", &format!("{time:.3}"))])
            .await
    }

    /// The values of `label` on the series matching `selector`, sorted (what Grafana's
    /// `label_values(selector, label)` offers).
    pub async fn label_values(&self, label: &str, selector: &str) -> Vec<String> {
        let data = self
            .api(
                &format!("/api/v1/label/{label}/values"),
                &[("match[]", selector)],
                &format!("{label} of {selector}"),
            )
            .await;
        let mut values: Vec<String> = serde_json::from_value(data).expect("label values");
        values.sort();
        values
    }

    /// `/api/v1/rules`: every loaded rule group, by file, with each alert's state and active
    /// alerts.
    pub async fn rules(&self) -> Value {
        self.api("/api/v1/rules", &[], "rules").await["groups"].clone()
    }

    /// `/api/v1/metadata`: the type (`counter`, `gauge`, `histogram`, …) of each metric family
    /// scraped, by the family name of its `# TYPE` line.
    pub async fn metadata(&self) -> BTreeMap<String, String> {
        self.api("/api/v1/metadata", &[], "metadata")
            .await
            .as_object()
            .expect("metadata by metric")
            .iter()
            .filter_map(|(name, entries)| {
                let kind = entries[0]["type"].as_str()?;
                Some((name.clone(), kind.to_owned()))
            })
            .collect()
    }

    /// The `data` of Prometheus's answer to `GET path?params`, asserting it succeeded (`what`
    /// names the request in the failure).
    async fn api(&self, path: &str, params: &[(&str, &str)], what: &str) -> Value {
        let body: Value = self
            .http
            .get(self.url(path))
            .query(params)
            .send()
            .await
            .expect("prometheus answers")
            .json()
            .await
            .expect("a JSON answer");
        assert_eq!(body["status"], "success", "{what}: {body}");
        body["data"].clone()
    }

    async fn instant(&self, params: &[(&str, &str)]) -> Vec<Series> {
        let data = self.api("/api/v1/query", params, params[0].1).await;
        let result = &data["result"];
        match data["resultType"].as_str() {
            Some("vector") => result
                .as_array()
                .expect("a vector")
                .iter()
                .map(|s| Series {
                    labels: serde_json::from_value(s["metric"].clone()).expect("labels"),
                    value: number(&s["value"][1]),
                })
                .collect(),
            Some("scalar") => vec![Series {
                labels: BTreeMap::new(),
                value: number(&result[1]),
            }],
            other => panic!("{}: unexpected result type {other:?}: {data}", params[0].1),
        }
    }

    /// Polls `promql` until `accept` takes its answer, or panics after `timeout` with the last
    /// answer, the scrape targets' health and the server's log.
    pub async fn wait_for(
        &self,
        promql: &str,
        timeout: Duration,
        accept: impl Fn(&[Series]) -> bool,
    ) -> Vec<Series> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let answer = self.query(promql).await;
            if accept(&answer) {
                return answer;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for `{promql}`; last answer: {answer:?}\n\
                     targets: {}\n--- prometheus log ---\n{}",
                    self.targets().await,
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `/api/v1/targets`: each target's health and last scrape error.
    pub async fn targets(&self) -> Value {
        match self.http.get(self.url("/api/v1/targets")).send().await {
            Ok(response) => response.json().await.unwrap_or(Value::Null),
            Err(error) => Value::String(error.to_string()),
        }
    }

    /// Everything the server logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Prometheus sends sample values as strings (`"1"`, `"NaN"`, `"+Inf"`).
fn number(value: &Value) -> f64 {
    let text = value.as_str().expect("a sample value");
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().expect("a number"),
    }
}
