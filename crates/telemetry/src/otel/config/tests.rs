//! The precedence rules of [`resolve`], against an environment given as a map.

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
    assert!(resolve_with(&settings, &[(vars::TRACES_EXPORTER, "otlp")]).is_ok_and(|c| c.is_some()));
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
