//! Flowgate's HTTP API.
//!
//! [`Application::build`] binds, starts the supervised Temporal connection and assembles the
//! routes; [`Application::run_until`] serves until a shutdown signal and drains. `main` and the
//! integration tests share this path.

pub mod access;
pub mod auth;
pub mod drain;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod metrics;
mod path;
pub mod protect;
pub mod routes;
pub mod serve;
pub mod startup;
pub mod state;
pub mod trace;

pub use routes::{ApiDoc, openapi};
pub use startup::Application;
