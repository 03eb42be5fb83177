//! Resolving the Temporal connection: Temporal's own conventions, overridden by Flowgate's settings.

use std::collections::HashMap;

use flowgate_config::{Secret, TemporalSettings, load_from};
use flowgate_temporal::resolve_with_env;

fn settings() -> TemporalSettings {
    load_from(None, &HashMap::new()).unwrap().temporal
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn without_configuration_it_is_the_local_default() {
    let resolved = resolve_with_env(&settings(), Some(&env(&[]))).unwrap();
    assert_eq!(resolved.summary.address, "localhost:7233");
    assert_eq!(resolved.summary.namespace, "default");
    assert!(!resolved.summary.tls);
    assert_eq!(
        resolved.connection.target.as_str(),
        "http://localhost:7233/"
    );
}

#[test]
fn temporal_environment_variables_are_honoured() {
    let vars = env(&[
        ("TEMPORAL_ADDRESS", "temporal.prod:7233"),
        ("TEMPORAL_NAMESPACE", "orders"),
        ("TEMPORAL_API_KEY", "key-123"),
    ]);
    let resolved = resolve_with_env(&settings(), Some(&vars)).unwrap();
    assert_eq!(resolved.summary.address, "temporal.prod:7233");
    assert_eq!(resolved.summary.namespace, "orders");
    assert!(resolved.summary.api_key);
    assert!(resolved.summary.tls, "an API key turns TLS on");
    assert_eq!(resolved.connection.target.scheme(), "https");
    assert_eq!(resolved.connection.api_key.as_deref(), Some("key-123"));
}

#[test]
fn a_temporal_toml_profile_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("temporal.toml");
    std::fs::write(
        &file,
        "[profile.default]\naddress = \"default.host:7233\"\n\n[profile.staging]\naddress = \"staging.host:7233\"\nnamespace = \"staging\"\n",
    )
    .unwrap();
    let path = file.display().to_string();
    let vars = env(&[
        ("TEMPORAL_CONFIG_FILE", path.as_str()),
        ("TEMPORAL_PROFILE", "staging"),
    ]);
    let resolved = resolve_with_env(&settings(), Some(&vars)).unwrap();
    assert_eq!(resolved.summary.address, "staging.host:7233");
    assert_eq!(resolved.summary.namespace, "staging");

    let mut chosen = settings();
    chosen.config_file = Some(file);
    chosen.profile = Some("default".into());
    let resolved = resolve_with_env(&chosen, Some(&env(&[]))).unwrap();
    assert_eq!(resolved.summary.address, "default.host:7233");
}

#[test]
fn flowgate_settings_win_over_temporal_conventions() {
    let mut s = settings();
    s.address = Some("explicit:7233".into());
    s.namespace = Some("explicit-ns".into());
    s.api_key = Some(Secret::new("explicit-key"));
    s.tls.enabled = Some(false);
    let vars = env(&[
        ("TEMPORAL_ADDRESS", "conventional:7233"),
        ("TEMPORAL_NAMESPACE", "conventional"),
    ]);
    let resolved = resolve_with_env(&s, Some(&vars)).unwrap();
    assert_eq!(resolved.summary.address, "explicit:7233");
    assert_eq!(resolved.summary.namespace, "explicit-ns");
    assert!(
        !resolved.summary.tls,
        "TLS explicitly off despite the API key"
    );
    assert_eq!(resolved.connection.api_key.as_deref(), Some("explicit-key"));
}

#[test]
fn mtls_files_are_read_and_a_missing_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("client.pem");
    let key = dir.path().join("client.key");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let mut s = settings();
    s.address = Some("temporal.secure:7233".into());
    s.tls.client_cert_path = Some(cert);
    s.tls.client_key_path = Some(key);
    let resolved = resolve_with_env(&s, Some(&env(&[]))).unwrap();
    assert!(resolved.summary.tls && resolved.summary.client_certificate);

    s.tls.client_key_path = Some(dir.path().join("missing.key"));
    assert!(resolve_with_env(&s, Some(&env(&[]))).is_err());
}

#[test]
fn plugins_and_interceptors_are_added_without_losing_the_namespace() {
    struct Named;
    impl temporalio_client::ClientPlugin for Named {
        fn name(&self) -> &str {
            "named"
        }
    }
    let vars = env(&[("TEMPORAL_NAMESPACE", "orders")]);
    let resolved = resolve_with_env(&settings(), Some(&vars))
        .unwrap()
        .with_interceptor(std::sync::Arc::new(
            flowgate_temporal::TraceContextInterceptor::new(),
        ))
        .with_plugin(temporalio_client::ErasedClientPlugin::new(Named));
    assert_eq!(resolved.client.namespace, "orders");
    assert_eq!(resolved.client.client_interceptors.len(), 1);
    let names: Vec<&str> = resolved.client.plugins().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["named"]);
}

#[test]
fn grpc_compression_is_off_unless_configured() {
    use flowgate_config::GrpcCompression;
    let resolved = resolve_with_env(&settings(), Some(&env(&[]))).unwrap();
    assert_eq!(
        resolved.connection.grpc_compression,
        temporalio_client::GrpcCompression::None
    );
    let mut gzip = settings();
    gzip.grpc_compression = GrpcCompression::Gzip;
    let resolved = resolve_with_env(&gzip, Some(&env(&[]))).unwrap();
    assert_eq!(
        resolved.connection.grpc_compression,
        temporalio_client::GrpcCompression::Gzip
    );
}
