//! Options for [`DevServer`](super::DevServer) and the command line built from them.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// How to run a dev server. Build with [`DevServerOptions::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct DevServerOptions {
    /// Path of the `temporal` CLI binary (see [`crate::temporal_cli::provision`]).
    pub cli: PathBuf,
    /// Address every server port binds to. Default `127.0.0.1`.
    pub ip: IpAddr,
    /// gRPC frontend port; `None` picks a free one.
    pub port: Option<u16>,
    /// HTTP API port; `None` picks a free one.
    pub http_port: Option<u16>,
    /// Web UI port; `None` runs headless (no UI).
    pub ui_port: Option<u16>,
    /// Prometheus `/metrics` port; `None` picks a free one.
    pub metrics_port: Option<u16>,
    /// SQLite file that persists state across restarts; `None` keeps everything in memory.
    pub db_file: Option<PathBuf>,
    /// Namespace to create (`default` always exists) and to wait for on start-up.
    pub namespace: String,
    /// Server log level: `debug`, `info`, `warn` (default), `error` or `never`.
    pub log_level: String,
    /// File the server's stdout and stderr are appended to; `None` uses a private temporary
    /// file, deleted with the [`DevServer`](super::DevServer) (still quoted in start-up errors).
    pub log_file: Option<PathBuf>,
    /// Extra arguments appended to `temporal server start-dev ...`.
    pub extra_args: Vec<String>,
    /// How long [`start`](super::DevServer::start) and [`restart`](super::DevServer::restart)
    /// wait for readiness. Default 30 s.
    pub startup_timeout: Duration,
    /// How long [`stop`](super::DevServer::stop) waits after SIGTERM before SIGKILL.
    /// Default 10 s.
    pub shutdown_timeout: Duration,
}

impl DevServerOptions {
    /// Defaults: loopback, free ports, headless, in-memory, namespace `default`, log level `warn`.
    pub fn new(cli: impl Into<PathBuf>) -> Self {
        Self {
            cli: cli.into(),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: None,
            http_port: None,
            ui_port: None,
            metrics_port: None,
            db_file: None,
            namespace: "default".to_owned(),
            log_level: "warn".to_owned(),
            log_file: None,
            extra_args: Vec::new(),
            startup_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
        }
    }

    /// The `temporal server start-dev ...` arguments (ports left `None` get the CLI's defaults).
    pub(crate) fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["server", "start-dev", "--ip"].map(Into::into).into();
        args.push(self.ip.to_string().into());
        let ports = [
            ("--port", self.port),
            ("--http-port", self.http_port),
            ("--metrics-port", self.metrics_port),
        ];
        for (flag, port) in ports {
            if let Some(port) = port {
                args.extend([flag.into(), port.to_string().into()]);
            }
        }
        match self.ui_port {
            Some(port) => args.extend(["--ui-port".into(), port.to_string().into()]),
            None => args.push("--headless".into()),
        }
        if let Some(db) = &self.db_file {
            args.extend(["--db-filename".into(), db.clone().into_os_string()]);
        }
        if self.namespace != "default" {
            args.extend(["--namespace".into(), self.namespace.clone().into()]);
        }
        args.extend(["--log-level".into(), self.log_level.clone().into()]);
        args.extend(self.extra_args.iter().map(Into::into));
        args
    }

    /// Where clients connect: the bind address, or loopback when bound to "any".
    pub(crate) fn socket(&self, port: u16) -> SocketAddr {
        let ip = match self.ip {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, port)
    }
}
