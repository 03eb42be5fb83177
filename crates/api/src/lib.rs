//! Flowgate's HTTP API.
//!
//! [`Application::build`] binds, starts the supervised Temporal connection and assembles the
//! routes; [`Application::run_until`] serves until a shutdown signal and drains. `main` and the
//! integration tests share this path.

mod access;
mod around;
mod auth;
mod drain;
mod error;
mod extract;
mod gateway;
mod metrics;
mod path;
mod protect;
mod routes;
mod serve;
mod startup;
mod state;
mod streams;
mod trace;

pub use metrics::{FailureReason, TemporalOperation};
pub use routes::openapi;
pub use startup::Application;
