//! Flowgate's Temporal worker: runs the shopping, order-approval and cart workflows and the order
//! activities they share.
//!
//! [`WorkerApp::build`] binds the probe endpoint; [`WorkerApp::run_until`] connects with
//! back-off, polls, and drains on shutdown. `main`, the local runner and tests share this path.

mod app;
mod callbacks;
mod health;
mod metrics;

pub use app::WorkerApp;
/// The trace and span id generator a process running workflows must give its tracer provider:
/// workflow spans get the same ids on replay.
pub use temporalio_sdk::opentelemetry::WorkflowIdGenerator;
