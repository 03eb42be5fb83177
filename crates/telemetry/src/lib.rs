//! Logging and traces for Flowgate's binaries: one [`init`] call, `RUST_LOG` honoured, pretty or
//! JSON lines, and OpenTelemetry traces over OTLP when an endpoint is configured (`[otel]` or the
//! standard `OTEL_*` variables, which win).
//!
//! The Prometheus registry both binaries export their metrics from is here too ([`metrics`]); the
//! service runtime that starts them (signals, the async runtime, health checks, heap release) is
//! `flowgate-runtime`.

mod json;
pub mod metrics;
mod otel;

use std::io::IsTerminal;

use flowgate_config::{LogFormat, LogSettings, OtelSettings, Settings};
pub use opentelemetry_sdk::trace::IdGenerator;
use opentelemetry_sdk::trace::SdkTracerProvider;
pub use otel::{OtelConfigError, exporting as traces_exported};
use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// What [`init`] sets up telemetry from.
pub struct TelemetryOptions {
    /// The program's name: the default `service.name` of its traces, and the prefix of its
    /// start-up errors.
    pub service_name: &'static str,
    /// Log format and level.
    pub log: LogSettings,
    /// Trace export.
    pub otel: OtelSettings,
    id_generator: Option<Box<dyn IdGenerator>>,
}

impl TelemetryOptions {
    /// Telemetry of `service_name` as `settings` configure it.
    pub fn new(service_name: &'static str, settings: &Settings) -> Self {
        Self {
            service_name,
            log: settings.log.clone(),
            otel: settings.otel.clone(),
            id_generator: None,
        }
    }

    /// Generates trace and span ids with `generator` instead of at random. A process that runs
    /// Temporal workflows must pass the SDK's replay-safe `WorkflowIdGenerator`.
    pub fn id_generator(mut self, generator: impl IdGenerator + 'static) -> Self {
        self.id_generator = Some(Box::new(generator));
        self
    }
}

/// Keeps telemetry running; on drop (or [`TelemetryGuard::shutdown`]) exports the spans still
/// buffered and stops the exporter. Hold it until `main` returns.
#[must_use = "telemetry stops when the guard is dropped"]
#[derive(Debug)]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        self.tracer_provider.is_some()
    }

    /// Exports the buffered spans and stops the exporter (waits up to 5 s).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.tracer_provider.take() {
            otel::shut_down(provider);
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Installs the global subscriber and, when an OTLP endpoint is configured, the tracer provider
/// and the W3C propagators. `RUST_LOG` wins over `log.level`. Calling it again (tests that start
/// several components in one process) keeps the first set-up and changes nothing.
///
/// Fails only on unusable trace settings, naming the key or variable. With an endpoint
/// configured it must run inside a tokio runtime.
pub fn init(options: TelemetryOptions) -> Result<TelemetryGuard, OtelConfigError> {
    let TelemetryOptions {
        service_name,
        log,
        otel: otel_settings,
        id_generator,
    } = options;
    let tracing = otel::start(&otel_settings, service_name, id_generator)?;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(tracing.as_ref().map(|t| otel::layer(&t.provider)));
    let result = match log.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .fmt_fields(json::JsonMembers)
                    .event_format(json::JsonLines),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
    };
    let Some(tracing) = tracing else {
        return Ok(TelemetryGuard {
            tracer_provider: None,
        });
    };
    if result.is_err() {
        // An already-installed subscriber is the test harness or an embedding process: it
        // keeps its set-up, and this provider never exports anything.
        otel::shut_down(tracing.provider);
        return Ok(TelemetryGuard {
            tracer_provider: None,
        });
    }
    otel::install(&tracing.provider);
    tracing::info!(export = %tracing.summary, "exporting traces over OTLP");
    Ok(TelemetryGuard {
        tracer_provider: Some(tracing.provider),
    })
}
