//! The typed settings tree. Field docs double as the configuration reference; `default.toml`
//! holds the default of every key.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{auth::AuthSettings, secret::Secret, webhooks::WebhookSettings};

/// Everything Flowgate's processes can be configured with. The API and the worker read the same
/// tree, so one config file can be mounted into both.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP API.
    pub api: ApiSettings,
    /// How to reach Temporal.
    pub temporal: TemporalSettings,
    /// The shopping workflow.
    pub shopping: ShoppingSettings,
    /// The worker process.
    pub worker: WorkerSettings,
    /// Logging.
    pub log: LogSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// OpenTelemetry traces.
    #[serde(default)]
    pub otel: OtelSettings,
    /// Rate limiting and load shedding of the HTTP API.
    pub limits: LimitsSettings,
    /// Cross-origin requests to the HTTP API from browsers.
    pub cors: CorsSettings,
    /// API keys and their permissions.
    #[serde(default)]
    pub auth: AuthSettings,
    /// Completion webhooks: destinations, signing, retries.
    #[serde(default)]
    pub webhooks: WebhookSettings,
}

/// Settings of the HTTP API process.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Interface to bind.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free port.
    pub port: u16,
    /// Largest accepted request body in bytes.
    pub body_limit_bytes: usize,
    /// How long result-waiting endpoints wait before answering "running".
    #[serde(with = "humantime_serde")]
    pub result_wait: Duration,
    /// Time between SIGTERM and closing the listener, during which readiness is false.
    #[serde(with = "humantime_serde")]
    pub shutdown_delay: Duration,
    /// Time in-flight requests get to finish once the listener is closed; at least
    /// `request_timeout`, so a drain never cuts a request (waits end when the drain begins).
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Longest time one request may take before it is answered 504; must exceed
    /// `result_wait` so that intended waits are never cut.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Threads of the async runtime: 1 runs everything on one thread, 0 one thread per CPU.
    pub runtime_threads: usize,
    /// A connection that makes no progress this long (sending a request's headers, between
    /// requests, or reading an answer) is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Client connections open at once; beyond it new connections wait in the listen backlog.
    pub max_connections: usize,
    /// Live event streams.
    pub events: EventStreamSettings,
}

/// Live event streams (`GET /v1/workflows/{id}/events`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventStreamSettings {
    /// Streams open at once, in total.
    pub max_streams: usize,
    /// Streams open at once per client.
    pub max_streams_per_client: usize,
    /// A stream ends after this long (the client resumes with `Last-Event-ID`).
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// A comment line is sent on a stream idle this long.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
}

/// Connection to Temporal. Unset optional values fall back to Temporal's own environment
/// variables and `temporal.toml` profiles.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalSettings {
    /// Frontend address, `host:port` or a URL.
    pub address: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// API key (Temporal Cloud); turns TLS on unless TLS is explicitly disabled.
    pub api_key: Option<Secret>,
    /// Profile to read from the Temporal config file.
    pub profile: Option<String>,
    /// Path of the Temporal config file (`temporal.toml`).
    pub config_file: Option<PathBuf>,
    /// TLS and mTLS.
    #[serde(default)]
    pub tls: TlsSettings,
    /// Bound on one connection attempt.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Bound on every single Temporal call.
    #[serde(with = "humantime_serde")]
    pub rpc_timeout: Duration,
    /// Period of the reachability check.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
    /// A reachability check slower than this counts as a failure.
    #[serde(with = "humantime_serde")]
    pub health_timeout: Duration,
    /// Consecutive failed checks before Temporal reads as unreachable.
    pub health_failure_threshold: u32,
    /// First back-off between connection attempts.
    #[serde(with = "humantime_serde")]
    pub reconnect_min_backoff: Duration,
    /// Longest back-off between connection attempts.
    #[serde(with = "humantime_serde")]
    pub reconnect_max_backoff: Duration,
    /// Compression of gRPC messages to and from Temporal.
    pub grpc_compression: GrpcCompression,
}

/// Compression of gRPC messages to and from Temporal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GrpcCompression {
    /// None: Flowgate's messages are small, and compressing them costs more CPU than the bytes
    /// save next to Temporal.
    None,
    /// Gzip requests and accept gzip answers (saves bandwidth over slow links).
    Gzip,
}

/// TLS towards Temporal. Every field is optional; unset fields keep what Temporal's own
/// configuration says.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// Force TLS on (`true`) or off (`false`).
    pub enabled: Option<bool>,
    /// Client certificate (PEM) for mTLS.
    pub client_cert_path: Option<PathBuf>,
    /// Client private key (PEM) for mTLS.
    pub client_key_path: Option<PathBuf>,
    /// CA certificate (PEM) that signed the server's certificate.
    pub server_ca_cert_path: Option<PathBuf>,
    /// Server name to verify (SNI).
    pub server_name: Option<String>,
}

/// The shopping workflow's knobs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShoppingSettings {
    /// The old name of `worker.task_queue`, still accepted; moved there when loading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_queue: Option<String>,
    /// Most items in one request.
    pub max_items: usize,
    /// Largest amount of one item.
    pub max_amount: u32,
    /// Artificial processing time per order activity.
    #[serde(with = "humantime_serde")]
    pub order_delay: Duration,
}

/// Settings of the worker process.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// The worker's task queue: every workflow registered on Flowgate's queue runs there, and
    /// the API starts them there.
    pub task_queue: String,
    /// Interface of the health endpoint.
    pub health_host: IpAddr,
    /// Port of the health endpoint; 0 picks a free port.
    pub health_port: u16,
    /// How long running activities may take to finish after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Activities run at once.
    pub max_concurrent_activities: usize,
    /// Workflow tasks run at once.
    pub max_concurrent_workflow_tasks: usize,
    /// Workflows kept in the sticky cache.
    pub max_cached_workflows: usize,
    /// Threads of the async runtime: 1 runs everything on one thread, 0 one thread per CPU.
    pub runtime_threads: usize,
}

/// Log output.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// Filter used when `RUST_LOG` is unset, in `RUST_LOG` syntax.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when writing to a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Where metrics are served.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Interface of the API's admin listener.
    pub api_admin_host: IpAddr,
    /// Port of the API's admin listener (`/metrics`); 0 picks a free port.
    pub api_admin_port: u16,
}

/// OpenTelemetry trace export. Every field is optional; the standard `OTEL_*` environment
/// variables win over them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtelSettings {
    /// OTLP endpoint; traces are exported only when this (or the standard variable) is set.
    pub endpoint: Option<String>,
    /// `grpc` or `http/protobuf`.
    pub protocol: Option<String>,
    /// Extra export headers, `key=value,key2=value2` (URL-encoded values).
    pub headers: Option<Secret>,
    /// `service.name` of the exported spans.
    pub service_name: Option<String>,
    /// Extra resource attributes, `key=value,...`.
    pub resource_attributes: Option<String>,
    /// Sampler name, as `OTEL_TRACES_SAMPLER`.
    pub traces_sampler: Option<String>,
    /// Sampler argument, as `OTEL_TRACES_SAMPLER_ARG`.
    pub traces_sampler_arg: Option<String>,
}

/// Per-client rate limiting and the global concurrency limit of the HTTP API. Health, docs and
/// the OpenAPI document are exempt.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    /// Requests per second each client may make on average (token bucket refill); 0 = no rate
    /// limiting.
    pub rate_per_second: f64,
    /// Requests a client may make at once after being idle (token bucket size).
    pub burst: u32,
    /// Use the last address of `X-Forwarded-For` as the client address (behind a proxy that
    /// appends to it); otherwise the TCP peer address.
    pub trust_forwarded_for: bool,
    /// Requests handled at once; beyond it requests are answered 503 at once. 0 = unlimited.
    pub max_concurrent_requests: usize,
    /// Requests one client (principal, or address without authentication) may have in flight;
    /// beyond it that client's requests are answered 503 at once. 0 = unlimited.
    pub max_concurrent_per_client: usize,
    /// Failed authentications one address may make per minute (also its burst); beyond it the
    /// address's requests are answered 429 before any credential is verified. 0 = unlimited.
    pub failed_auth_per_minute: u32,
}

/// CORS: which browser origins may call the API.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins allowed to call the API (`https://app.example.com`), or `["*"]` for any; empty
    /// = no CORS headers at all. In the environment: comma separated.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub allowed_origins: Vec<String>,
    /// How long browsers may cache a preflight answer.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
}

/// A list, or one comma-separated string (how environment variables carry lists).
pub(crate) fn list_or_comma_separated<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(list) => list,
        ListOrString::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}
