//! The effective trace-export configuration: the `[otel]` settings overlaid by the standard
//! `OTEL_*` variables, which always win (as in every OpenTelemetry SDK).
//!
//! The OpenTelemetry SDK lets values set in code win over its variables, so Flowgate resolves
//! the precedence itself and hands the SDK final values. Everything here is a pure function of
//! the settings and an environment lookup, so the rules are unit-tested without touching the
//! process environment.

use std::collections::BTreeMap;

use flowgate_config::OtelSettings;

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

/// Which spans are sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SamplerConfig {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    ParentBased(ParentlessSampler),
}

/// What a parent-based sampler does for a root span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ParentlessSampler {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
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

/// A source of variables (the process environment, or a map in tests).
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A variable's value; unset and empty are the same, as the specification says.
fn var(env: Env<'_>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A setting's value, empty meaning unset like for the variables.
fn key(value: Option<&str>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The first of `(value, source)` candidates that is set.
fn first<const N: usize>(
    candidates: [(Option<String>, &'static str); N],
) -> Option<(String, &'static str)> {
    candidates
        .into_iter()
        .find_map(|(value, source)| value.map(|v| (v, source)))
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
        sampler: sampler(settings, env)?,
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

/// The sampler and its argument, each from its variable or else its setting.
fn sampler(settings: &OtelSettings, env: Env<'_>) -> Result<SamplerConfig, OtelConfigError> {
    let (name, name_source) = first([
        (var(env, vars::SAMPLER), vars::SAMPLER),
        (
            key(settings.traces_sampler.as_deref()),
            "otel.traces_sampler",
        ),
    ])
    .unwrap_or_else(|| ("parentbased_always_on".to_owned(), "default"));
    let arg = first([
        (var(env, vars::SAMPLER_ARG), vars::SAMPLER_ARG),
        (
            key(settings.traces_sampler_arg.as_deref()),
            "otel.traces_sampler_arg",
        ),
    ]);
    let ratio = || -> Result<f64, OtelConfigError> {
        let Some((arg, source)) = &arg else {
            return Ok(1.0);
        };
        arg.parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| {
                OtelConfigError::new(
                    *source,
                    format!("must be a number from 0 to 1, got {arg:?}"),
                )
            })
    };
    Ok(match name.to_ascii_lowercase().as_str() {
        "always_on" => SamplerConfig::AlwaysOn,
        "always_off" => SamplerConfig::AlwaysOff,
        "traceidratio" => SamplerConfig::Ratio(ratio()?),
        "parentbased_always_on" => SamplerConfig::ParentBased(ParentlessSampler::AlwaysOn),
        "parentbased_always_off" => SamplerConfig::ParentBased(ParentlessSampler::AlwaysOff),
        "parentbased_traceidratio" => {
            SamplerConfig::ParentBased(ParentlessSampler::Ratio(ratio()?))
        }
        other => {
            return Err(OtelConfigError::new(
                name_source,
                format!(
                    "unsupported sampler {other:?} (always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"
                ),
            ));
        }
    })
}

/// `key1=value1,key2=value2` with percent-encoded values, the format of
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES`.
fn key_values(text: &str, source: &str) -> Result<Vec<(String, String)>, OtelConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, value) = entry
                .split_once('=')
                .filter(|(name, _)| !name.trim().is_empty())
                .ok_or_else(|| {
                    // Never echo the entry: it may be a header carrying a token.
                    OtelConfigError::new(source, "expected key=value pairs separated by commas")
                })?;
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .map_err(|_| OtelConfigError::new(source, "a value is not UTF-8 once decoded"))?;
            Ok((name.trim().to_owned(), value.into_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use flowgate_config::Secret;

    use super::*;

    fn resolve_with(
        settings: &OtelSettings,
        vars: &[(&str, &str)],
    ) -> Result<Option<ExportConfig>, OtelConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        resolve(settings, "flowgate-api", "1.2.3", &|name| {
            vars.get(name).cloned()
        })
    }

    fn with_endpoint(endpoint: &str) -> OtelSettings {
        OtelSettings {
            endpoint: Some(endpoint.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn without_an_endpoint_tracing_is_off_whatever_else_is_set() {
        let settings = OtelSettings {
            protocol: Some("grpc".into()),
            service_name: Some("svc".into()),
            traces_sampler: Some("always_on".into()),
            ..Default::default()
        };
        let vars = [(vars::SERVICE_NAME, "x"), (vars::PROTOCOL, "grpc")];
        assert_eq!(resolve_with(&settings, &vars), Ok(None));
        assert_eq!(resolve_with(&with_endpoint("  "), &[]), Ok(None));
    }

    #[test]
    fn the_standard_variables_win_over_the_settings() {
        let settings = OtelSettings {
            endpoint: Some("http://from-file:4317".into()),
            protocol: Some("http/protobuf".into()),
            headers: Some(Secret::new("x-file=1")),
            service_name: Some("from-file".into()),
            resource_attributes: Some("team=file,region=eu".into()),
            traces_sampler: Some("always_off".into()),
            traces_sampler_arg: Some("0.1".into()),
        };
        let vars = [
            (vars::ENDPOINT, "http://from-env:4317"),
            (vars::PROTOCOL, "grpc"),
            (vars::HEADERS, "x-env=2"),
            (vars::SERVICE_NAME, "from-env"),
            (vars::RESOURCE_ATTRIBUTES, "team=env"),
            (vars::SAMPLER, "parentbased_traceidratio"),
            (vars::SAMPLER_ARG, "0.5"),
        ];
        let config = resolve_with(&settings, &vars).unwrap().unwrap();
        assert_eq!(config.endpoint, "http://from-env:4317");
        assert_eq!(config.endpoint_source, vars::ENDPOINT);
        assert_eq!(config.protocol, Protocol::Grpc);
        assert_eq!(
            config.headers, None,
            "the exporter reads the variable itself"
        );
        assert_eq!(config.resource["service.name"], "from-env");
        assert_eq!(config.resource["team"], "env");
        assert_eq!(config.resource["region"], "eu");
        assert_eq!(
            config.sampler,
            SamplerConfig::ParentBased(ParentlessSampler::Ratio(0.5))
        );
    }

    #[test]
    fn the_settings_alone_configure_everything() {
        let settings = OtelSettings {
            endpoint: Some("http://collector:4318/".into()),
            protocol: Some("http/protobuf".into()),
            headers: Some(Secret::new("authorization=Bearer%20abc, x-tenant = t1")),
            service_name: Some("orders-api".into()),
            resource_attributes: Some("deployment.environment=prod,service.name=ignored".into()),
            traces_sampler: Some("traceidratio".into()),
            traces_sampler_arg: Some("0.25".into()),
        };
        let config = resolve_with(&settings, &[]).unwrap().unwrap();
        assert_eq!(config.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(config.protocol, Protocol::HttpProtobuf);
        assert_eq!(
            config.headers,
            Some(vec![
                ("authorization".into(), "Bearer abc".into()),
                ("x-tenant".into(), "t1".into())
            ])
        );
        assert_eq!(config.resource["service.name"], "orders-api");
        assert_eq!(config.resource["service.version"], "1.2.3");
        assert_eq!(config.resource["deployment.environment"], "prod");
        assert_eq!(config.sampler, SamplerConfig::Ratio(0.25));
    }

    #[test]
    fn defaults_are_the_binary_name_http_protobuf_and_parent_based_always_on() {
        let config = resolve_with(
            &OtelSettings::default(),
            &[(vars::ENDPOINT, "http://c:4318")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(config.resource["service.name"], "flowgate-api");
        assert_eq!(config.protocol, Protocol::HttpProtobuf);
        assert_eq!(config.endpoint, "http://c:4318/v1/traces");
        assert_eq!(
            config.sampler,
            SamplerConfig::ParentBased(ParentlessSampler::AlwaysOn)
        );
    }

    #[test]
    fn a_traces_endpoint_is_used_as_is_and_wins_over_the_base_endpoint() {
        let vars = [
            (vars::TRACES_ENDPOINT, "http://traces:4318/custom"),
            (vars::ENDPOINT, "http://base:4318"),
        ];
        let config = resolve_with(&with_endpoint("http://file:4318"), &vars)
            .unwrap()
            .unwrap();
        assert_eq!(config.endpoint, "http://traces:4318/custom");
        let grpc = [
            (vars::ENDPOINT, "http://base:4317"),
            (vars::PROTOCOL, "grpc"),
        ];
        let config = resolve_with(&OtelSettings::default(), &grpc)
            .unwrap()
            .unwrap();
        assert_eq!(config.endpoint, "http://base:4317", "gRPC has no path");
    }

    #[test]
    fn exporting_can_be_turned_off_by_the_standard_variables() {
        let settings = with_endpoint("http://c:4317");
        assert_eq!(
            resolve_with(&settings, &[(vars::SDK_DISABLED, "TRUE")]),
            Ok(None)
        );
        assert_eq!(
            resolve_with(&settings, &[(vars::TRACES_EXPORTER, "none")]),
            Ok(None)
        );
        assert!(
            resolve_with(&settings, &[(vars::TRACES_EXPORTER, "otlp")]).is_ok_and(|c| c.is_some())
        );
    }

    #[test]
    fn unusable_values_are_errors_naming_their_source() {
        let settings = with_endpoint("http://c:4317");
        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[(vars::PROTOCOL, "http/json")], vars::PROTOCOL),
            (&[(vars::SAMPLER, "sometimes")], vars::SAMPLER),
            (
                &[(vars::SAMPLER, "traceidratio"), (vars::SAMPLER_ARG, "2")],
                vars::SAMPLER_ARG,
            ),
            (
                &[(vars::RESOURCE_ATTRIBUTES, "novalue")],
                vars::RESOURCE_ATTRIBUTES,
            ),
            (&[(vars::ENDPOINT, "collector:4317")], vars::ENDPOINT),
            (&[(vars::TRACES_EXPORTER, "zipkin")], vars::TRACES_EXPORTER),
        ];
        for (vars, source) in cases {
            let error = resolve_with(&settings, vars).unwrap_err();
            assert_eq!(error.source_name, source, "{vars:?}: {error}");
        }
        let file = OtelSettings {
            traces_sampler: Some("sometimes".into()),
            ..with_endpoint("http://c:4317")
        };
        assert_eq!(
            resolve_with(&file, &[]).unwrap_err().source_name,
            "otel.traces_sampler"
        );
    }

    #[test]
    fn https_needs_grpc_because_otlp_http_has_no_tls_here() {
        let https = [(vars::ENDPOINT, "https://c:4318")];
        let error = resolve_with(&OtelSettings::default(), &https).unwrap_err();
        assert_eq!(error.source_name, vars::ENDPOINT);
        let grpc = [(vars::ENDPOINT, "https://c:4317"), (vars::PROTOCOL, "grpc")];
        assert!(resolve_with(&OtelSettings::default(), &grpc).is_ok());
    }

    #[test]
    fn malformed_headers_are_reported_without_their_value() {
        let settings = OtelSettings {
            headers: Some(Secret::new("authorization Bearer secret-token")),
            ..with_endpoint("http://c:4317")
        };
        let error = resolve_with(&settings, &[]).unwrap_err();
        assert_eq!(error.source_name, "otel.headers");
        assert!(!error.to_string().contains("secret-token"), "{error}");
    }
}
