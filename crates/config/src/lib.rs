//! Flowgate's configuration: one typed [`Settings`] tree shared by the API and the worker.
//!
//! Sources, lowest precedence first:
//! 1. the commented defaults embedded in every binary ([`DEFAULT_CONFIG`]);
//! 2. optional TOML files (`--config PATH` or `FLOWGATE_CONFIG`; several separated by `:`),
//!    layered in order, a later file's keys winning;
//! 3. the variables of the original guide (`API_PORT`, `TEMPORAL_HOST`, `TEMPORAL_NAMESPACE`);
//! 4. `FLOWGATE_<SECTION>__<KEY>` environment variables.
//!
//! [`load`] validates the result, so a process that got [`Settings`] can trust them.

mod auth;
mod cli;
mod load;
mod secret;
mod settings;
mod validate;
mod webhooks;

pub use auth::{
    Action, ApiKeySettings, AuthSettings, JwtKeySettings, JwtSettings, Permission, parse_sha256_hex,
};
pub use cli::{Command, ConfigArgs};
pub use load::{ConfigError, DEFAULT_CONFIG, load, load_files, load_files_from, load_from};
pub use secret::Secret;
pub use settings::{
    ApiSettings, CorsSettings, EventStreamSettings, GrpcCompression, LimitsSettings, LogFormat,
    LogSettings, MetricsSettings, OtelSettings, Settings, ShoppingSettings, TemporalSettings,
    TlsSettings, WorkerSettings,
};
pub use webhooks::{WebhookSettings, is_public, secret_key};

impl Settings {
    /// The settings as TOML, secrets redacted (for `check-config`).
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }
}
