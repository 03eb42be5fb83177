//! Layering: embedded defaults < config files, in order < guide aliases < `FLOWGATE_*`
//! environment.

use std::{collections::HashMap, path::Path};

use config::{Config, Environment, File, FileFormat};

use crate::{Settings, validate::validate};

/// The commented defaults, compiled into every binary.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// Prefix of Flowgate's environment variables.
pub(crate) const ENV_PREFIX: &str = "FLOWGATE";

/// `FLOWGATE_*` variables that are not settings (tooling and the config file path).
pub(crate) const NON_SETTING_VARS: &[&str] = &[
    "FLOWGATE_CONFIG",
    "FLOWGATE_TEMPORAL_CLI",
    "FLOWGATE_CACHE_DIR",
];

/// Variables from the original Python guide, kept as aliases: (variable, setting key).
/// `TEMPORAL_HOST` only applies when `TEMPORAL_ADDRESS` (Temporal's own name) is unset.
const ALIASES: &[(&str, &str)] = &[
    ("API_PORT", "api.port"),
    ("TEMPORAL_HOST", "temporal.address"),
    ("TEMPORAL_NAMESPACE", "temporal.namespace"),
];

/// Why settings could not be loaded. The message is one line that names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or a value has the wrong type.
    #[error("invalid configuration: {0}")]
    Load(String),
    /// A value was read but is not acceptable.
    #[error("invalid configuration: {key}: {problem}")]
    Invalid {
        /// Dotted key, e.g. `api.port`.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Loads settings from the process environment and an optional file.
pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    load_from(file, &std::env::vars().collect())
}

/// Loads settings from the given environment (tests pass their own) and an optional file.
pub fn load_from(
    file: Option<&Path>,
    env: &HashMap<String, String>,
) -> Result<Settings, ConfigError> {
    load_files_from(file.as_slice(), env)
}

/// Loads settings from the process environment and config files layered in order.
pub fn load_files<P: AsRef<Path>>(files: &[P]) -> Result<Settings, ConfigError> {
    load_files_from(files, &std::env::vars().collect())
}

/// Loads settings from the given environment and config files layered in order: a later file's
/// keys win over an earlier one's, tables merge key by key, and a list (`auth.api_keys`) is
/// replaced whole. A deployment can so keep its settings in one file and its credentials in
/// another (the Helm chart mounts a Secret's file over its ConfigMap's).
pub fn load_files_from<P: AsRef<Path>>(
    files: &[P],
    env: &HashMap<String, String>,
) -> Result<Settings, ConfigError> {
    let mut builder =
        Config::builder().add_source(File::from_str(DEFAULT_CONFIG, FileFormat::Toml));
    for path in files {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(ConfigError::Load(format!(
                "config file {} does not exist or is not a file",
                path.display()
            )));
        }
        builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
    }
    let config = builder
        .add_source(env_source(alias_vars(env)?))
        .add_source(env_source(flowgate_vars(env)?))
        .build()
        .map_err(|e| ConfigError::Load(one_line(&e.to_string())))?;
    let mut settings: Settings = serde_path_deserialize(config)?;
    move_task_queue_alias(&mut settings)?;
    validate(&settings)?;
    Ok(settings)
}

/// `shopping.task_queue`, the old name of `worker.task_queue`, moves there; both set to
/// different queues is an error naming both.
fn move_task_queue_alias(settings: &mut Settings) -> Result<(), ConfigError> {
    let Some(old) = settings.shopping.task_queue.take() else {
        return Ok(());
    };
    let current = &settings.worker.task_queue;
    if current != DEFAULT_TASK_QUEUE && *current != old {
        return Err(ConfigError::invalid(
            "shopping.task_queue",
            format!(
                "is the old name of worker.task_queue, which is set to {current:?}; set only worker.task_queue"
            ),
        ));
    }
    settings.worker.task_queue = old;
    Ok(())
}

/// `worker.task_queue` of the embedded defaults.
const DEFAULT_TASK_QUEUE: &str = "shopping-tasks";

fn serde_path_deserialize(config: Config) -> Result<Settings, ConfigError> {
    config
        .try_deserialize()
        .map_err(|e| ConfigError::Load(one_line(&e.to_string())))
}

/// An environment source over already-translated `SECTION__KEY` variables.
fn env_source(vars: HashMap<String, String>) -> Environment {
    Environment::default()
        .separator("__")
        .try_parsing(true)
        .source(Some(vars))
}

fn alias_vars(env: &HashMap<String, String>) -> Result<HashMap<String, String>, ConfigError> {
    let mut vars = HashMap::new();
    for (var, key) in ALIASES {
        let Some(value) = env.get(*var) else { continue };
        if *var == "TEMPORAL_HOST" && env.contains_key("TEMPORAL_ADDRESS") {
            continue;
        }
        if value.trim().is_empty() {
            return Err(ConfigError::invalid(key, format!("{var} is set but empty")));
        }
        vars.insert(key.replace('.', "__").to_uppercase(), value.clone());
    }
    Ok(vars)
}

/// `FLOWGATE_API__PORT=1` becomes `API__PORT=1`. A `FLOWGATE_` variable that is neither a
/// setting nor a known tooling variable is rejected, so a typo (`FLOWGATE_API_PORT`) does not
/// silently do nothing.
fn flowgate_vars(env: &HashMap<String, String>) -> Result<HashMap<String, String>, ConfigError> {
    let prefix = format!("{ENV_PREFIX}_");
    let mut vars = HashMap::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        if NON_SETTING_VARS.contains(&name.as_str()) {
            continue;
        }
        if !rest.contains("__") {
            return Err(ConfigError::Load(format!(
                "unknown variable {name}: settings are FLOWGATE_<SECTION>__<KEY>, e.g. FLOWGATE_API__PORT"
            )));
        }
        vars.insert(rest.to_owned(), value.clone());
    }
    Ok(vars)
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
