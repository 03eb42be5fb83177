//! OpenTelemetry traces, end to end: the real `flowgate-api` and `flowgate-worker` binaries, each
//! its own process with its own `service.name`, export to an OTLP receiver inside this test.
//!
//! Both run as child processes because telemetry is process-global (one subscriber, one tracer
//! provider): an in-process API or worker would export on behalf of every test of this binary.
//! The worker binary is the one `cargo test --workspace` builds next to the API's.
//! The batch processor's schedule is set to ten minutes, so spans only arrive through the flush
//! at shutdown, which is what these tests wait for.

mod configuration;
mod propagation;
mod support;
mod v1;
