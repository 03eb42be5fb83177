//! Reads the repository's `docker-compose.yml` as written (no interpolation: the file uses
//! none, which a test checks), so the config contract can start the real binaries with exactly
//! what compose hands their containers.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{Context, bail};
use serde_norway::Value;

/// The repository's `docker-compose.yml`.
pub fn compose_path() -> PathBuf {
    crate::repo_root().join("docker-compose.yml")
}

/// The compose file, parsed.
pub fn read_compose() -> anyhow::Result<Value> {
    let path = compose_path();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_norway::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Service `name` of a parsed compose file.
pub fn service<'a>(compose: &'a Value, name: &str) -> anyhow::Result<&'a Value> {
    compose["services"]
        .get(name)
        .with_context(|| format!("docker-compose.yml has no service {name}"))
}

/// The names of every service.
pub fn service_names(compose: &Value) -> Vec<String> {
    compose["services"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(str::to_owned))
        .collect()
}

/// A service's `environment`, in either the mapping or the `KEY=value` list form.
pub fn environment(service: &Value) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    match &service["environment"] {
        Value::Null => {}
        Value::Mapping(map) => {
            for (key, value) in map {
                let key = key.as_str().context("environment key")?.to_owned();
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => bail!("environment {key}: unsupported value {other:?}"),
                };
                env.insert(key, value);
            }
        }
        Value::Sequence(items) => {
            for item in items {
                let item = item.as_str().context("environment entry")?;
                let (key, value) = item.split_once('=').unwrap_or((item, ""));
                env.insert(key.to_owned(), value.to_owned());
            }
        }
        other => bail!("environment: unsupported form {other:?}"),
    }
    Ok(env)
}

/// A bind mount or volume of a service (short syntax `source:target[:mode]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    /// Host path (relative to the repository) or volume name.
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Mounted `:ro`.
    pub read_only: bool,
}

/// A service's `volumes`.
pub fn mounts(service: &Value) -> Vec<Mount> {
    service["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|spec| {
            let parts: Vec<&str> = spec.split(':').collect();
            Mount {
                source: parts[0].to_owned(),
                target: parts.get(1).copied().unwrap_or(parts[0]).to_owned(),
                read_only: parts
                    .get(2)
                    .is_some_and(|m| m.split(',').any(|m| m == "ro")),
            }
        })
        .collect()
}

/// The host file a bind mount's source names, if it is a path (`./…`).
pub fn host_path(mount: &Mount) -> Option<PathBuf> {
    let relative = mount.source.strip_prefix("./")?;
    Some(crate::repo_root().join(relative))
}

/// The host file that service `name` sees at `container_path`: mounted there, or inside a
/// mounted directory.
pub fn mounted(compose: &Value, name: &str, container_path: &str) -> anyhow::Result<PathBuf> {
    let svc = service(compose, name)?;
    mounts(svc)
        .iter()
        .find_map(|m| {
            if m.target == container_path {
                host_path(m)
            } else {
                let rest = container_path.strip_prefix(&format!("{}/", m.target))?;
                host_path(m).map(|p| p.join(rest))
            }
        })
        .with_context(|| {
            format!("{name}: nothing from the repository is mounted at {container_path}")
        })
}

/// `(host port, container port)` of each published port (`"host:container"` strings).
pub fn published_ports(service: &Value) -> Vec<(u16, u16)> {
    service["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|spec| {
            let (host, container) = spec.rsplit_once(':')?;
            let host = host.rsplit(':').next()?;
            Some((host.parse().ok()?, container.parse().ok()?))
        })
        .collect()
}

/// A service's `healthcheck.test` as a list (`["CMD", …]`).
pub fn healthcheck_test(service: &Value) -> Option<Vec<String>> {
    service["healthcheck"]["test"].as_sequence().map(|items| {
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    })
}

/// A service's `profiles`.
pub fn profiles(service: &Value) -> Vec<String> {
    service["profiles"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}
