//! How Flowgate's processes reach Temporal.
//!
//! [`resolve`] turns Flowgate's `[temporal]` settings, layered over Temporal's own conventions
//! (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`,
//! `TEMPORAL_PROFILE`, `temporal.toml`), into connection options. [`TemporalLink`] connects in
//! the background with back-off, keeps checking that Temporal answers, and tells callers at once
//! when it does not — so a process keeps running (and says it is not ready) while Temporal is away.

mod link;
mod resolve;

pub use link::{LinkState, TemporalLink, Unavailable};
pub use resolve::{ResolveError, Resolved, resolve, resolve_with_env};
