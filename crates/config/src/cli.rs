//! Command-line arguments every Flowgate binary shares.

use std::{path::PathBuf, process::ExitCode};

use crate::{ConfigError, Settings};

/// `--config PATH`, flattened into each binary's `clap` parser.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML config files layered over the built-in defaults, in order: a later file's keys win
    /// (environment variables still win over all). Repeat `--config`, or separate paths with `:`
    /// (`FLOWGATE_CONFIG=/etc/flowgate/flowgate.toml:/etc/flowgate/auth/auth.toml`).
    #[arg(
        long,
        short = 'c',
        env = "FLOWGATE_CONFIG",
        global = true,
        value_name = "PATH",
        value_delimiter = ':'
    )]
    pub config: Vec<PathBuf>,
}

impl ConfigArgs {
    /// Loads and validates the settings from the files (if any) and the environment.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        let files: Vec<&PathBuf> = self
            .config
            .iter()
            .filter(|path| !path.as_os_str().is_empty())
            .collect();
        crate::load_files(&files)
    }

    /// Like [`ConfigArgs::load`], but reports a failure as the one line `<program>: <error>` on
    /// stderr and gives the exit code (2) to stop with.
    pub fn load_or_report(&self, program: &str) -> Result<Settings, ExitCode> {
        self.load().map_err(|error| {
            eprintln!("{program}: {error}");
            ExitCode::from(2)
        })
    }
}

/// Subcommands every Flowgate service binary has.
#[derive(Debug, Clone, Default, clap::Subcommand)]
pub enum Command {
    /// Run the service (the default).
    #[default]
    Run,
    /// Print the effective configuration, secrets redacted, and exit.
    CheckConfig,
    /// Check this service's own `/readyz`: exit 0 when it answers 200, else 1.
    ///
    /// For container health checks (the images have no shell or curl): probes the configured
    /// port (`api.port` or `worker.health_port`) over loopback, with a 3 s timeout.
    Healthcheck {
        /// Check this `http://` URL instead, e.g. another pod's `/readyz` through its Service
        /// (the Helm chart's `helm test` does so).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Also require the answer's body to contain this text. The chart's `helm test` checks
        /// that the API reached Temporal with `--url http://<api>:8000/ --expect
        /// '"temporal_connected":true'`: `/readyz` answers 200 whether or not Temporal is
        /// reachable.
        #[arg(long, value_name = "TEXT", requires = "url")]
        expect: Option<String>,
    },
}

impl Command {
    /// Whether this is `healthcheck`.
    pub fn is_healthcheck(&self) -> bool {
        matches!(self, Self::Healthcheck { .. })
    }
}
