//! Prometheus metrics every Flowgate process exports, and the text encoding they are served in.
//!
//! Each process builds one [`Registry`] with [`registry`] (build info and process metrics already
//! in it), registers its own metrics there and serves [`encode`]d text at `/metrics`. Registries
//! are per component, never the crate's global default, so tests can run several components in
//! one process without their metrics mixing.

use prometheus::{Encoder, IntGauge, Opts, Registry, TextEncoder};

/// The version every Flowgate crate shares (the workspace version).
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this build was made from (short hash), `FLOWGATE_GIT_COMMIT` when built outside
/// a git checkout, or `unknown`. Embedded by the build script.
const GIT_COMMIT: &str = env!("FLOWGATE_BUILD_GIT_COMMIT");

/// `Content-Type` of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// A registry holding `flowgate_build_info{service, version, git_commit} 1` and, on Linux, the
/// standard process metrics (`process_resident_memory_bytes`, `process_cpu_seconds_total`,
/// `process_open_fds`, `process_max_fds`, `process_virtual_memory_bytes`,
/// `process_start_time_seconds`, `process_threads`).
pub fn registry(service: &str) -> prometheus::Result<Registry> {
    let registry = Registry::new();
    let build_info = IntGauge::with_opts(
        Opts::new(
            "flowgate_build_info",
            "Always 1; the labels say which build of which Flowgate process this is.",
        )
        .const_label("service", service)
        .const_label("version", VERSION)
        .const_label("git_commit", GIT_COMMIT),
    )?;
    build_info.set(1);
    registry.register(Box::new(build_info))?;
    #[cfg(target_os = "linux")]
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    Ok(registry)
}

/// Everything in `registry`, in the text exposition format.
pub fn encode(registry: &Registry) -> prometheus::Result<String> {
    let mut text = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut text)?;
    // The encoder writes only what it was given as UTF-8 (names, escaped labels, numbers).
    String::from_utf8(text).map_err(|e| prometheus::Error::Msg(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_carries_build_info_and_process_metrics() {
        let text = encode(&registry("flowgate-test").unwrap()).unwrap();
        let build_info = format!(
            "flowgate_build_info{{git_commit=\"{GIT_COMMIT}\",service=\"flowgate-test\",version=\"{VERSION}\"}} 1"
        );
        assert!(text.contains(&build_info), "{text}");
        for name in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
        ] {
            assert!(
                text.contains(&format!("\n{name} ")),
                "{name} missing: {text}"
            );
        }
    }

    #[test]
    fn the_git_commit_is_never_empty() {
        assert!(!GIT_COMMIT.is_empty());
        assert!(!GIT_COMMIT.contains(char::is_whitespace), "{GIT_COMMIT:?}");
    }
}
