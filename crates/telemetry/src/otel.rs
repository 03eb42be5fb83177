//! OpenTelemetry traces, exported over OTLP (gRPC or HTTP/protobuf) when an endpoint is
//! configured; nothing at all (no exporter, no thread, no global state) when none is.
//!
//! When on, [`start`] builds a tracer provider (batch exporter, resource, sampler, and the id
//! generator the caller passes — the worker's must be the Temporal SDK's replay-safe one) and
//! [`install`] makes it and the W3C TraceContext + Baggage propagators the process's globals, which
//! the Temporal client interceptors use. [`layer`] bridges `tracing` spans into it, except the
//! Temporal SDK's own.

mod config;

use opentelemetry::{
    KeyValue, global,
    propagation::TextMapCompositePropagator,
    trace::{SpanId, TraceId, TracerProvider as _},
};
use opentelemetry_otlp::{
    SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
    tonic_types::{metadata::MetadataMap, transport::ClientTlsConfig},
};
use opentelemetry_sdk::{
    Resource,
    propagation::{BaggagePropagator, TraceContextPropagator},
    resource::TelemetryResourceDetector,
    trace::{IdGenerator, Sampler, SdkTracerProvider},
};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::{Layer, filter::filter_fn, registry::LookupSpan};

pub use config::OtelConfigError;
use config::{ExportConfig, ParentlessSampler, Protocol, SamplerConfig};

/// Instrumentation scope of the spans bridged from `tracing`.
const SCOPE: &str = "flowgate";

/// Targets whose spans and events never become OpenTelemetry data: the Temporal SDK's own
/// (a span per poll and per activation — thousands a minute, and, once active, they would become
/// the parents of the plugin's workflow spans), and the exporter's own stack (spans about
/// exporting spans would feed themselves).
const NOT_EXPORTED: &[&str] = &[
    "temporalio",
    "opentelemetry",
    "tonic",
    "h2",
    "hyper",
    "tower",
    "reqwest",
];

/// A started tracer provider and what it exports to, for the start-up log line.
pub(crate) struct Tracing {
    pub(crate) provider: SdkTracerProvider,
    pub(crate) summary: String,
}

/// Builds the tracer provider if an endpoint is configured. Must run inside a tokio runtime
/// (the gRPC channel lives there). Installs nothing; see [`install`].
pub(crate) fn start(
    settings: &flowgate_config::OtelSettings,
    service_name: &str,
    id_generator: Option<Box<dyn IdGenerator>>,
) -> Result<Option<Tracing>, OtelConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let Some(config) = config::resolve(settings, service_name, env!("CARGO_PKG_VERSION"), &env)?
    else {
        return Ok(None);
    };
    let exporter = exporter(&config)?;
    let resource = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(
            config
                .resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build();
    let mut builder = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler(config.sampler))
        .with_resource(resource);
    if let Some(generator) = id_generator {
        builder = builder.with_id_generator(DynIdGenerator(generator));
    }
    let summary = format!(
        "{} over {} as {:?}",
        config.endpoint,
        match config.protocol {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        },
        config.resource["service.name"],
    );
    Ok(Some(Tracing {
        provider: builder.build(),
        summary,
    }))
}

fn exporter(config: &ExportConfig) -> Result<SpanExporter, OtelConfigError> {
    let built = match config.protocol {
        Protocol::Grpc => {
            let mut builder = SpanExporter::builder()
                .with_tonic()
                .with_endpoint(config.endpoint.clone());
            if config.endpoint.starts_with("https://") {
                builder = builder.with_tls_config(ClientTlsConfig::new().with_enabled_roots());
            }
            if let Some(headers) = &config.headers {
                builder = builder.with_metadata(metadata(headers)?);
            }
            builder.build()
        }
        Protocol::HttpProtobuf => {
            let mut builder = SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(config.endpoint.clone());
            if let Some(headers) = &config.headers {
                builder = builder.with_headers(headers.iter().cloned().collect());
            }
            builder.build()
        }
    };
    built.map_err(|e| OtelConfigError::new(config.endpoint_source, e.to_string()))
}

fn metadata(headers: &[(String, String)]) -> Result<MetadataMap, OtelConfigError> {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        let invalid = || OtelConfigError::new("otel.headers", "not a valid gRPC header");
        map.append(
            http::HeaderName::try_from(name.as_str()).map_err(|_| invalid())?,
            http::HeaderValue::try_from(value.as_str()).map_err(|_| invalid())?,
        );
    }
    Ok(MetadataMap::from_headers(map))
}

fn sampler(config: SamplerConfig) -> Sampler {
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        SamplerConfig::ParentBased(root) => Sampler::ParentBased(Box::new(match root {
            ParentlessSampler::AlwaysOn => Sampler::AlwaysOn,
            ParentlessSampler::AlwaysOff => Sampler::AlwaysOff,
            ParentlessSampler::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        })),
    }
}

/// Makes `provider` the global one (the Temporal interceptors use the global tracer) and W3C
/// TraceContext + Baggage the global propagator (the API extracts incoming context with it).
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process exports traces (`[otel]` configured and installed). Code that only
/// decorates OpenTelemetry spans can skip its work when not.
pub fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn install(provider: &SdkTracerProvider) {
    EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
    global::set_tracer_provider(provider.clone());
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
}

/// The `tracing` → OpenTelemetry bridge: spans become OpenTelemetry spans (`otel.name`,
/// `otel.kind` and the span's fields as attributes), entering one makes its context current.
pub(crate) fn layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + use<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SCOPE))
        // Semantic-convention spans, without the bridge's bookkeeping attributes.
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_filter(filter_fn(exported))
}

fn exported(metadata: &Metadata<'_>) -> bool {
    exported_target(metadata.target())
}

fn exported_target(target: &str) -> bool {
    !NOT_EXPORTED.iter().any(|prefix| target.starts_with(prefix))
}

/// Flushes what the batch processor holds and stops its thread. Runs on a helper thread: the
/// export may need the async runtime this thread belongs to.
pub(crate) fn shut_down(provider: SdkTracerProvider) {
    let result = std::thread::spawn(move || provider.shutdown()).join();
    match result {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "could not flush the last spans"),
        Err(_) => tracing::warn!("the tracer provider panicked while shutting down"),
    }
}

/// Any id generator, boxed (the provider's builder takes a concrete type).
#[derive(Debug)]
struct DynIdGenerator(Box<dyn IdGenerator>);

impl IdGenerator for DynIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        self.0.new_trace_id()
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temporal_sdk_and_the_exporter_stack_are_kept_out() {
        for target in [
            "temporalio_sdk_core::worker",
            "temporalio_client::retry",
            "temporalio_sdk",
            "opentelemetry_sdk",
            "h2::proto",
        ] {
            assert!(!exported_target(target), "{target}");
        }
        for target in ["flowgate_api::trace", "flowgate_worker::app"] {
            assert!(exported_target(target), "{target}");
        }
    }
}
