//! Command-line arguments every Flowgate binary shares.

use std::path::PathBuf;

use crate::{ConfigError, Settings};

/// `--config PATH`, flattened into each binary's `clap` parser.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML config file layered over the built-in defaults (environment variables still win).
    #[arg(
        long,
        short = 'c',
        env = "FLOWGATE_CONFIG",
        global = true,
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
}

impl ConfigArgs {
    /// Loads and validates the settings from the file (if any) and the environment.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        crate::load(self.config.as_deref())
    }
}
