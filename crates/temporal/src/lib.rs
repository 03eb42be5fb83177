//! How Flowgate's processes reach Temporal.
//!
//! [`resolve`] turns Flowgate's `[temporal]` settings, layered over Temporal's own conventions
//! (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`,
//! `TEMPORAL_PROFILE`, `temporal.toml`), into connection options. [`TemporalLink`] connects in
//! the background with back-off, keeps checking that Temporal answers, and tells callers at once
//! when it does not (after `temporal.health_failure_threshold` failed checks in a row) — so a
//! process keeps running while Temporal is away: the worker says it is not ready, the API stays
//! ready and answers 503s itself.
//! [`Direct`] is the lean path for the calls a request makes.
//! [`TraceContextInterceptor`] carries the caller's trace into the workflows it starts.

mod direct;
mod link;
mod resolve;
mod trace_context;

pub use direct::{Direct, Method, no_answer};
pub use link::{LinkState, TemporalLink, Unavailable};
pub use resolve::{ResolveError, Resolved, resolve, resolve_with_env};
pub use trace_context::{TRACE_HEADER_KEY, TraceContextInterceptor};

/// `check-config`: prints the effective settings (secrets redacted) and the Temporal
/// connection they resolve to. Exit code 2 when the connection settings are unusable.
#[expect(
    clippy::print_stdout,
    reason = "check-config prints to stdout by design"
)]
pub fn print_effective_config(settings: &flowgate_config::Settings) -> std::process::ExitCode {
    println!("# Effective Flowgate configuration (secrets redacted)\n");
    println!("{}", settings.to_redacted_toml());
    match resolve(&settings.temporal) {
        Ok(resolved) => {
            let s = &resolved.summary;
            println!(
                "# Temporal connection, after TEMPORAL_* variables and temporal.toml profiles"
            );
            println!("# address = {:?}", s.address);
            println!("# namespace = {:?}", s.namespace);
            println!(
                "# tls = {}, api_key = {}, client_certificate = {}",
                s.tls,
                if s.api_key { "set" } else { "unset" },
                s.client_certificate
            );
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            std::process::ExitCode::from(2)
        }
    }
}
