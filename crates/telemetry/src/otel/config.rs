//! The effective trace-export configuration: the `[otel]` settings overlaid by the standard
//! `OTEL_*` variables, which always win (as in every OpenTelemetry SDK).
//!
//! The OpenTelemetry SDK lets values set in code win over its variables, so Flowgate resolves
//! the precedence itself and hands the SDK final values. Everything here is a pure function of
//! the settings and an environment lookup, so the rules are unit-tested without touching the
//! process environment.

mod sampler;
#[cfg(test)]
mod tests;
mod values;

use std::collections::BTreeMap;

use flowgate_config::OtelSettings;

pub(crate) use sampler::{ParentlessSampler, SamplerConfig};
use values::{Env, first, key, key_values, var};

/// The standard variables read here.
pub(crate) mod vars {
    pub(crate) const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
    pub(crate) const TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
    pub(crate) const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    pub(crate) const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    pub(crate) const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
    pub(crate) const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
    pub(crate) const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
    pub(crate) const TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
    pub(crate) const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    pub(crate) const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
    pub(crate) const SAMPLER: &str = "OTEL_TRACES_SAMPLER";
    pub(crate) const SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
}

/// Path the OTLP/HTTP exporter appends to a base endpoint (not to a traces endpoint).
const HTTP_TRACES_PATH: &str = "/v1/traces";

/// A configuration value that cannot be used, named by the key or variable it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct OtelConfigError {
    /// `otel.<key>` or the `OTEL_*` variable.
    pub source_name: String,
    /// What is wrong.
    pub message: String,
}

impl OtelConfigError {
    pub(crate) fn new(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            source_name: source_name.into(),
            message: message.into(),
        }
    }
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Grpc,
    HttpProtobuf,
}

/// Everything needed to export traces.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExportConfig {
    pub(crate) protocol: Protocol,
    /// The URL the exporter sends to, final (the signal path already added for OTLP/HTTP).
    pub(crate) endpoint: String,
    /// Where the endpoint came from, for error messages.
    pub(crate) endpoint_source: &'static str,
    /// Headers from `otel.headers`; `None` when the standard variables set them, which the
    /// exporter then reads itself (giving it both would send them twice over gRPC).
    pub(crate) headers: Option<Vec<(String, String)>>,
    /// Resource attributes, `service.name` included, precedence already applied.
    pub(crate) resource: BTreeMap<String, String>,
    pub(crate) sampler: SamplerConfig,
}

/// Resolves the export configuration. `Ok(None)`: tracing is off — no endpoint anywhere, or
/// turned off with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
pub(crate) fn resolve(
    settings: &OtelSettings,
    default_service_name: &str,
    service_version: &str,
    env: Env<'_>,
) -> Result<Option<ExportConfig>, OtelConfigError> {
    if var(env, vars::SDK_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    if let Some(exporter) = var(env, vars::TRACES_EXPORTER) {
        match exporter.to_ascii_lowercase().as_str() {
            "none" => return Ok(None),
            "otlp" => {}
            other => {
                return Err(OtelConfigError::new(
                    vars::TRACES_EXPORTER,
                    format!("only \"otlp\" and \"none\" are supported, got {other:?}"),
                ));
            }
        }
    }
    let Some((endpoint, endpoint_source)) = first([
        (var(env, vars::TRACES_ENDPOINT), vars::TRACES_ENDPOINT),
        (var(env, vars::ENDPOINT), vars::ENDPOINT),
        (key(settings.endpoint.as_deref()), "otel.endpoint"),
    ]) else {
        return Ok(None);
    };
    let protocol = protocol(settings, env)?;
    let endpoint = match protocol {
        // Only a base endpoint gets the signal path, exactly like the exporter does for the
        // variables; `otel.endpoint` is a base endpoint like `OTEL_EXPORTER_OTLP_ENDPOINT`.
        Protocol::HttpProtobuf if endpoint_source != vars::TRACES_ENDPOINT => {
            format!("{}{HTTP_TRACES_PATH}", endpoint.trim_end_matches('/'))
        }
        _ => endpoint,
    };
    check_endpoint(&endpoint, endpoint_source, protocol)?;
    let headers = if var(env, vars::TRACES_HEADERS).is_some() || var(env, vars::HEADERS).is_some() {
        None
    } else {
        match settings.headers.as_ref().map(|h| h.expose()) {
            Some(headers) => Some(key_values(headers, "otel.headers")?),
            None => None,
        }
    };
    Ok(Some(ExportConfig {
        protocol,
        endpoint,
        endpoint_source,
        headers,
        resource: resource(settings, default_service_name, service_version, env)?,
        sampler: sampler::resolve(settings, env)?,
    }))
}

fn protocol(settings: &OtelSettings, env: Env<'_>) -> Result<Protocol, OtelConfigError> {
    let chosen = first([
        (var(env, vars::TRACES_PROTOCOL), vars::TRACES_PROTOCOL),
        (var(env, vars::PROTOCOL), vars::PROTOCOL),
        (key(settings.protocol.as_deref()), "otel.protocol"),
    ]);
    match chosen {
        // The specification's default, and the exporter's.
        None => Ok(Protocol::HttpProtobuf),
        Some((value, source)) => match value.as_str() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            other => Err(OtelConfigError::new(
                source,
                format!("must be \"grpc\" or \"http/protobuf\", got {other:?}"),
            )),
        },
    }
}

fn check_endpoint(
    endpoint: &str,
    source: &'static str,
    protocol: Protocol,
) -> Result<(), OtelConfigError> {
    let scheme = endpoint.split_once("://").map(|(scheme, _)| scheme);
    match (scheme, protocol) {
        (Some("http"), _) | (Some("https"), Protocol::Grpc) => Ok(()),
        (Some("https"), Protocol::HttpProtobuf) => Err(OtelConfigError::new(
            source,
            format!(
                "{endpoint:?}: OTLP/HTTP is built without TLS; use protocol \"grpc\" for an \
                 https endpoint, or a plain http one"
            ),
        )),
        _ => Err(OtelConfigError::new(
            source,
            format!("{endpoint:?} is not an http:// or https:// URL"),
        )),
    }
}

/// `service.name`: `OTEL_SERVICE_NAME` > `service.name` in `OTEL_RESOURCE_ATTRIBUTES` >
/// `otel.service_name` > `service.name` in `otel.resource_attributes` > the binary's name. Other
/// attributes: the variable's over the setting's, key by key.
fn resource(
    settings: &OtelSettings,
    default_service_name: &str,
    service_version: &str,
    env: Env<'_>,
) -> Result<BTreeMap<String, String>, OtelConfigError> {
    let mut resource = BTreeMap::from([
        ("service.name".to_owned(), default_service_name.to_owned()),
        ("service.version".to_owned(), service_version.to_owned()),
    ]);
    if let Some(attributes) = key(settings.resource_attributes.as_deref()) {
        resource.extend(key_values(&attributes, "otel.resource_attributes")?);
    }
    if let Some(name) = key(settings.service_name.as_deref()) {
        resource.insert("service.name".to_owned(), name);
    }
    if let Some(attributes) = var(env, vars::RESOURCE_ATTRIBUTES) {
        resource.extend(key_values(&attributes, vars::RESOURCE_ATTRIBUTES)?);
    }
    if let Some(name) = var(env, vars::SERVICE_NAME) {
        resource.insert("service.name".to_owned(), name);
    }
    Ok(resource)
}
