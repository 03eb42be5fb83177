//! Flowgate settings over Temporal's envconfig.

use std::{collections::HashMap, sync::Arc};

use flowgate_config::TemporalSettings;
use serde::Serialize;
use temporalio_client::{ClientInterceptor, ClientOptions, ConnectionOptions, ErasedClientPlugin};
use temporalio_common::envconfig::{
    ClientConfigProfile, DataSource, LoadClientConfigProfileOptions, load_client_config_profile,
};

const DEFAULT_ADDRESS: &str = "localhost:7233";
const DEFAULT_NAMESPACE: &str = "default";

/// The effective way to reach Temporal.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Connection options for the SDK.
    pub connection: ConnectionOptions,
    /// Client options (namespace) for the SDK.
    pub client: ClientOptions,
    /// What was resolved, safe to print.
    pub summary: Summary,
}

impl Resolved {
    /// Adds `interceptor` to the client, innermost (after the ones already there).
    pub fn with_interceptor(mut self, interceptor: Arc<dyn ClientInterceptor>) -> Self {
        self.client.client_interceptors.push(interceptor);
        self
    }

    /// Registers a client plugin (such as the SDK's OpenTelemetry plugin): it configures the
    /// client when it connects, and workers created from that client get its worker half.
    pub fn with_plugin(mut self, plugin: impl Into<ErasedClientPlugin>) -> Self {
        // Plugins can only be registered through the builder: rebuild, keeping every option
        // the builder can set (all there are in the pinned SDK).
        let current = self.client;
        self.client = ClientOptions::new(current.namespace.clone())
            .data_converter(current.data_converter.clone())
            .client_interceptors(current.client_interceptors.clone())
            .plugins(current.plugins().iter().cloned())
            .plugin(plugin)
            .build();
        self
    }
}

/// The resolved connection, without secrets.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Address connected to.
    pub address: String,
    /// Namespace used.
    pub namespace: String,
    /// Whether TLS is on.
    pub tls: bool,
    /// Whether an API key is sent.
    pub api_key: bool,
    /// Whether a client certificate (mTLS) is presented.
    pub client_certificate: bool,
}

/// The Temporal connection settings are unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid Temporal connection settings: {0}")]
pub struct ResolveError(String);

/// Resolves against the process environment.
pub fn resolve(settings: &TemporalSettings) -> Result<Resolved, ResolveError> {
    resolve_with_env(settings, None)
}

/// Resolves against the given environment (`None` = the process environment).
pub fn resolve_with_env(
    settings: &TemporalSettings,
    env: Option<&HashMap<String, String>>,
) -> Result<Resolved, ResolveError> {
    let options = LoadClientConfigProfileOptions::builder()
        .maybe_config_source(
            settings
                .config_file
                .as_ref()
                .map(|p| DataSource::Path(p.display().to_string())),
        )
        .maybe_config_file_profile(settings.profile.clone())
        .build();
    let mut profile =
        load_client_config_profile(options, env).map_err(|e| ResolveError(e.to_string()))?;
    overlay(&mut profile, settings);

    let namespace = profile
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let address = profile
        .address
        .get_or_insert_with(|| DEFAULT_ADDRESS.to_owned())
        .clone();
    let api_key = profile.api_key.is_some();
    let client_certificate = profile
        .tls
        .as_ref()
        .is_some_and(|t| t.client_cert.is_some());
    let mut connection =
        ConnectionOptions::try_from(profile).map_err(|e| ResolveError(e.to_string()))?;
    connection.connect_timeout = Some(settings.connect_timeout);
    connection.identity = identity();
    connection.grpc_compression = match settings.grpc_compression {
        flowgate_config::GrpcCompression::None => temporalio_client::GrpcCompression::None,
        flowgate_config::GrpcCompression::Gzip => temporalio_client::GrpcCompression::Gzip,
    };
    let summary = Summary {
        address,
        namespace: namespace.clone(),
        tls: connection.tls_options.is_some(),
        api_key,
        client_certificate,
    };
    Ok(Resolved {
        connection,
        client: ClientOptions::new(namespace).build(),
        summary,
    })
}

/// Explicit Flowgate settings win over Temporal's own configuration.
fn overlay(profile: &mut ClientConfigProfile, s: &TemporalSettings) {
    if let Some(address) = &s.address {
        profile.address = Some(address.clone());
    }
    if let Some(namespace) = &s.namespace {
        profile.namespace = Some(namespace.clone());
    }
    if let Some(key) = &s.api_key {
        profile.api_key = Some(key.expose().to_owned());
    }
    let tls = &s.tls;
    let path = |p: &std::path::PathBuf| DataSource::Path(p.display().to_string());
    if tls.enabled.is_some()
        || tls.client_cert_path.is_some()
        || tls.server_ca_cert_path.is_some()
        || tls.server_name.is_some()
    {
        let t = profile.tls.get_or_insert_with(Default::default);
        if let Some(enabled) = tls.enabled {
            t.disabled = Some(!enabled);
        }
        if let (Some(cert), Some(key)) = (&tls.client_cert_path, &tls.client_key_path) {
            t.client_cert = Some(path(cert));
            t.client_key = Some(path(key));
        }
        if let Some(ca) = &tls.server_ca_cert_path {
            t.server_ca_cert = Some(path(ca));
        }
        if let Some(name) = &tls.server_name {
            t.server_name = Some(name.clone());
        }
    }
}

/// `flowgate@<hostname>:<pid>`, shown in Temporal's UI as the worker/client identity.
fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("flowgate@{host}:{}", std::process::id())
}
