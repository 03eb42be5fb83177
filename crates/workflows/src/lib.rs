//! Flowgate's Temporal workflows.
//!
//! Everything a client of a workflow needs — its Temporal type name, task queue, and input and
//! output types — is always compiled. The implementations (workflow code and activities) sit
//! behind the `worker` feature, which only the worker enables.
//!
//! Workflow code is deterministic: timers, concurrency and selection go through the workflow
//! context, never through tokio.

pub mod approval;
pub mod callbacks;
pub mod cart;
pub mod duration;
pub mod registry;
pub(crate) mod rules;
#[cfg(feature = "openapi")]
mod shape;
pub mod shopping;
pub mod wording;
