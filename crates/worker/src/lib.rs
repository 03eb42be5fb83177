//! Flowgate's Temporal worker: runs the shopping workflow and its activities.
//!
//! [`WorkerApp::build`] binds the probe endpoint; [`WorkerApp::run_until`] connects with
//! back-off, polls, and drains on shutdown. `main`, the local runner and tests share this path.

mod app;
pub mod health;

pub use app::WorkerApp;
