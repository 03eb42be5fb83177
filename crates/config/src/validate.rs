//! Cross-field and range rules, checked right after loading.

use std::time::Duration;

use crate::{ConfigError, Settings};

const MAX_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Most threads an async runtime may be given (a typo guard, far above any useful value).
const MAX_RUNTIME_THREADS: usize = 1024;

/// Room `api.request_timeout` leaves after `api.result_wait` for the Temporal calls around a wait.
const REQUEST_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

pub(crate) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let api = &s.api;
    in_range(
        "api.body_limit_bytes",
        api.body_limit_bytes,
        1,
        MAX_BODY_LIMIT,
    )?;
    in_range(
        "api.runtime_threads",
        api.runtime_threads,
        0,
        MAX_RUNTIME_THREADS,
    )?;
    positive("api.result_wait", api.result_wait)?;
    positive("api.shutdown_grace", api.shutdown_grace)?;
    if api.request_timeout < api.result_wait + REQUEST_TIMEOUT_MARGIN {
        return Err(ConfigError::invalid(
            "api.request_timeout",
            format!(
                "must exceed api.result_wait ({}) by at least {}, got {}",
                humantime_serde::re::humantime::format_duration(api.result_wait),
                humantime_serde::re::humantime::format_duration(REQUEST_TIMEOUT_MARGIN),
                humantime_serde::re::humantime::format_duration(api.request_timeout),
            ),
        ));
    }
    // A drain answers waiting requests at once, but any other request in flight may still take
    // up to request_timeout; a shorter grace would drop it with an empty reply.
    if api.shutdown_grace < api.request_timeout {
        return Err(ConfigError::invalid(
            "api.shutdown_grace",
            format!(
                "must be at least api.request_timeout ({}), got {}, or a drain could cut requests",
                humantime_serde::re::humantime::format_duration(api.request_timeout),
                humantime_serde::re::humantime::format_duration(api.shutdown_grace),
            ),
        ));
    }

    let limits = &s.limits;
    if !limits.rate_per_second.is_finite() || limits.rate_per_second < 0.0 {
        return Err(ConfigError::invalid(
            "limits.rate_per_second",
            format!(
                "must be 0 (off) or positive, got {}",
                limits.rate_per_second
            ),
        ));
    }
    if limits.rate_per_second > 0.0 {
        in_range("limits.burst", limits.burst, 1, 1_000_000)?;
    }
    if limits.max_concurrent_requests > 0
        && limits.max_concurrent_per_client > limits.max_concurrent_requests
    {
        return Err(ConfigError::invalid(
            "limits.max_concurrent_per_client",
            format!(
                "must not exceed limits.max_concurrent_requests ({}), got {}",
                limits.max_concurrent_requests, limits.max_concurrent_per_client
            ),
        ));
    }
    positive("api.idle_timeout", api.idle_timeout)?;
    in_range("api.max_connections", api.max_connections, 1, 1_000_000)?;
    let events = &api.events;
    in_range("api.events.max_streams", events.max_streams, 1, 1_000_000)?;
    in_range(
        "api.events.max_streams_per_client",
        events.max_streams_per_client,
        1,
        events.max_streams,
    )?;
    positive("api.events.max_age", events.max_age)?;
    positive("api.events.heartbeat", events.heartbeat)?;
    for origin in &s.cors.allowed_origins {
        valid_origin(origin, s.cors.allowed_origins.len())?;
    }

    validate_auth(&s.auth)?;
    validate_webhooks(&s.webhooks)?;

    let t = &s.temporal;
    if let Some(address) = &t.address {
        valid_address("temporal.address", address)?;
    }
    non_empty_opt("temporal.namespace", t.namespace.as_deref())?;
    non_empty_opt("temporal.profile", t.profile.as_deref())?;
    if let Some(key) = &t.api_key {
        non_empty("temporal.api_key", key.expose())?;
    }
    if t.tls.client_cert_path.is_some() != t.tls.client_key_path.is_some() {
        return Err(ConfigError::invalid(
            "temporal.tls",
            "client_cert_path and client_key_path must be set together",
        ));
    }
    positive("temporal.connect_timeout", t.connect_timeout)?;
    positive("temporal.rpc_timeout", t.rpc_timeout)?;
    positive("temporal.health_interval", t.health_interval)?;
    positive("temporal.health_timeout", t.health_timeout)?;
    in_range(
        "temporal.health_failure_threshold",
        t.health_failure_threshold,
        1,
        100,
    )?;
    positive("temporal.reconnect_min_backoff", t.reconnect_min_backoff)?;
    if t.reconnect_max_backoff < t.reconnect_min_backoff {
        return Err(ConfigError::invalid(
            "temporal.reconnect_max_backoff",
            "must not be smaller than temporal.reconnect_min_backoff",
        ));
    }

    let shop = &s.shopping;
    non_empty("worker.task_queue", &s.worker.task_queue)?;
    in_range("shopping.max_items", shop.max_items, 1, 10_000)?;
    in_range("shopping.max_amount", shop.max_amount, 1, u32::MAX)?;

    let w = &s.worker;
    positive("worker.shutdown_grace", w.shutdown_grace)?;
    in_range(
        "worker.runtime_threads",
        w.runtime_threads,
        0,
        MAX_RUNTIME_THREADS,
    )?;
    in_range(
        "worker.max_concurrent_activities",
        w.max_concurrent_activities,
        1,
        100_000,
    )?;
    in_range(
        "worker.max_concurrent_workflow_tasks",
        w.max_concurrent_workflow_tasks,
        2,
        100_000,
    )?;
    in_range(
        "worker.max_cached_workflows",
        w.max_cached_workflows,
        1,
        1_000_000,
    )?;

    if let Some(protocol) = &s.otel.protocol
        && !matches!(protocol.as_str(), "grpc" | "http/protobuf")
    {
        return Err(ConfigError::invalid(
            "otel.protocol",
            format!("must be \"grpc\" or \"http/protobuf\", got {protocol:?}"),
        ));
    }

    tracing_subscriber::EnvFilter::builder()
        .parse(&s.log.level)
        .map_err(|e| ConfigError::invalid("log.level", e.to_string()))?;
    Ok(())
}

/// Each key: a unique name, a 64-hex-character hash, permissions that parse. Errors name the key
/// (`auth.api_keys[<name>]`), never its hash.
fn validate_auth(auth: &crate::AuthSettings) -> Result<(), ConfigError> {
    if auth.enabled && auth.api_keys.is_empty() && !auth.jwt.is_configured() {
        return Err(ConfigError::invalid(
            "auth.api_keys",
            "auth.enabled is true but neither [[auth.api_keys]] nor auth.jwt.jwks_url / [[auth.jwt.keys]] are configured",
        ));
    }
    for (role, permissions) in &auth.roles {
        let path = format!("auth.roles.{role}");
        if role.trim().is_empty() {
            return Err(ConfigError::invalid(
                "auth.roles",
                "role names must not be empty",
            ));
        }
        for permission in permissions {
            crate::Permission::parse(permission)
                .map_err(|problem| ConfigError::invalid(&path, problem))?;
        }
    }
    validate_jwt(&auth.jwt)?;
    let mut names = std::collections::HashSet::new();
    for (i, key) in auth.api_keys.iter().enumerate() {
        let name = key.name.trim();
        let path = if name.is_empty() {
            format!("auth.api_keys[{i}]")
        } else {
            format!("auth.api_keys[{name}]")
        };
        if name.is_empty() {
            return Err(ConfigError::invalid(&path, "name must not be empty"));
        }
        if !names.insert(name) {
            return Err(ConfigError::invalid(
                &path,
                format!("duplicate key name {name:?}; names must be unique"),
            ));
        }
        crate::parse_sha256_hex(key.sha256.expose())
            .map_err(|problem| ConfigError::invalid(&path, problem))?;
        if key.permissions.is_empty() && key.roles.is_empty() {
            return Err(ConfigError::invalid(
                &path,
                "permissions and roles must not both be empty",
            ));
        }
        if let Some(role) = key.roles.iter().find(|r| !auth.roles.contains_key(*r)) {
            return Err(ConfigError::invalid(
                &path,
                format!("role {role:?} is not defined in [auth.roles]"),
            ));
        }
        for permission in &key.permissions {
            crate::Permission::parse(permission)
                .map_err(|problem| ConfigError::invalid(&path, problem))?;
        }
    }
    Ok(())
}

/// Token verification: an issuer and an audience, a usable key set URL, keys that parse.
fn validate_jwt(jwt: &crate::JwtSettings) -> Result<(), ConfigError> {
    positive("auth.jwt.jwks_refresh_interval", jwt.jwks_refresh_interval)?;
    // 0 would let every token naming an unknown kid fetch the key set: a free amplifier
    // against the issuer and a stall for the API.
    positive(
        "auth.jwt.jwks_min_refresh_interval",
        jwt.jwks_min_refresh_interval,
    )?;
    positive("auth.jwt.jwks_timeout", jwt.jwks_timeout)?;
    non_empty("auth.jwt.subject_claim", &jwt.subject_claim)?;
    non_empty("auth.jwt.roles_claim", &jwt.roles_claim)?;
    if let Some(url) = &jwt.jwks_url
        && !url.trim().is_empty()
    {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let host = url.split_once("://").map_or("", |(_, rest)| rest);
        if !matches!(scheme.as_deref(), Some("http" | "https")) || host.is_empty() {
            return Err(ConfigError::invalid(
                "auth.jwt.jwks_url",
                format!("{url:?} is not an http:// or https:// URL"),
            ));
        }
        // Whoever can change the key set in transit can sign any token.
        if scheme.as_deref() == Some("http") && !jwt.jwks_allow_http {
            return Err(ConfigError::invalid(
                "auth.jwt.jwks_url",
                format!(
                    "{url:?} must be https:// (plain http:// only for development, with auth.jwt.jwks_allow_http = true)"
                ),
            ));
        }
    }
    if !jwt.is_configured() {
        return Ok(());
    }
    if jwt.issuer.trim().is_empty() {
        return Err(ConfigError::invalid(
            "auth.jwt.issuer",
            "required when tokens are verified (the token's iss must equal it)",
        ));
    }
    if jwt.audience.iter().all(|a| a.trim().is_empty()) {
        return Err(ConfigError::invalid(
            "auth.jwt.audience",
            "required when tokens are verified (the token's aud must name one of them)",
        ));
    }
    for (i, key) in jwt.keys.iter().enumerate() {
        let path = match key.kid.as_deref() {
            Some(kid) => format!("auth.jwt.keys[{kid}]"),
            None => format!("auth.jwt.keys[{i}]"),
        };
        key.decoding_key()
            .map_err(|problem| ConfigError::invalid(&path, problem))?;
    }
    Ok(())
}

fn validate_webhooks(w: &crate::WebhookSettings) -> Result<(), ConfigError> {
    for (i, secret) in w.secrets.iter().enumerate() {
        if crate::webhooks::secret_key(secret).is_none() {
            return Err(ConfigError::invalid(
                &format!("webhooks.secrets[{i}]"),
                "must be whsec_ followed by the base64 of 24 to 64 random bytes",
            ));
        }
    }
    for pattern in &w.allowed_hosts {
        let rest = pattern.strip_prefix("*.").unwrap_or(pattern);
        if pattern != "*" && (rest.is_empty() || rest.contains(['*', '/', ':', ' '])) {
            return Err(ConfigError::invalid(
                "webhooks.allowed_hosts",
                format!("{pattern:?} is not a host, *.domain or *"),
            ));
        }
    }
    positive("webhooks.retry_for", w.retry_for)?;
    positive("webhooks.initial_retry_interval", w.initial_retry_interval)?;
    positive("webhooks.attempt_timeout", w.attempt_timeout)?;
    if w.max_retry_interval < w.initial_retry_interval {
        return Err(ConfigError::invalid(
            "webhooks.max_retry_interval",
            "must be at least webhooks.initial_retry_interval",
        ));
    }
    Ok(())
}

fn positive(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "must be greater than 0"));
    }
    Ok(())
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    key: &str,
    v: T,
    min: T,
    max: T,
) -> Result<(), ConfigError> {
    if v < min || v > max {
        return Err(ConfigError::invalid(
            key,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(())
}

fn non_empty(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    Ok(())
}

fn non_empty_opt(key: &str, value: Option<&str>) -> Result<(), ConfigError> {
    value.map_or(Ok(()), |v| non_empty(key, v))
}

/// `host:port` or a URL with a host and a port.
fn valid_address(key: &str, address: &str) -> Result<(), ConfigError> {
    let bad = || ConfigError::invalid(key, format!("{address:?} is not host:port or a URL"));
    let authority = match address.split_once("://") {
        Some((_, rest)) => rest.trim_end_matches('/'),
        None => address,
    };
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(())
}

/// `*` alone, or `scheme://host[:port]` exactly as browsers send it in `Origin`.
fn valid_origin(origin: &str, count: usize) -> Result<(), ConfigError> {
    const KEY: &str = "cors.allowed_origins";
    if origin == "*" {
        if count > 1 {
            return Err(ConfigError::invalid(
                KEY,
                "\"*\" cannot be combined with other origins",
            ));
        }
        return Ok(());
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', ' ', '*']) => Ok(()),
        _ => Err(ConfigError::invalid(
            KEY,
            format!(
                "{origin:?} is not an origin like https://app.example.com (no path, no trailing slash)"
            ),
        )),
    }
}
