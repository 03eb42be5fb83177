//! Building and running the worker: one path for `main`, the local runner and tests.

use std::{future::Future, net::SocketAddr};

use anyhow::Context;
use flowgate_config::Settings;
use flowgate_temporal::TemporalLink;
use flowgate_workflows::{
    registry::{TaskQueue, WorkflowDef},
    shopping::OrderActivities,
};
use temporalio_sdk::{
    Runtime, Worker, WorkerOptions,
    opentelemetry::OpenTelemetryPlugin,
    runtime::{
        RuntimeOptions,
        worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
    },
};
use tokio::{net::TcpListener, sync::watch};

use crate::{
    callbacks::{CallbackDeliveryWorkflow, DeliveryActivities},
    health::{self, Phase},
    metrics::WorkerMetrics,
};

/// A worker with its probe endpoint bound, ready to run.
pub struct WorkerApp {
    settings: Settings,
    health: TcpListener,
}

impl WorkerApp {
    /// Binds the probe endpoint at `worker.health_host:worker.health_port`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let address = SocketAddr::new(settings.worker.health_host, settings.worker.health_port);
        let health = TcpListener::bind(address).await.with_context(|| {
            format!("cannot listen on {address} (worker.health_host / worker.health_port)")
        })?;
        Ok(Self::with_health_listener(settings, health))
    }

    /// Uses an already bound probe listener (tests bind port 0).
    pub fn with_health_listener(settings: Settings, health: TcpListener) -> Self {
        Self { settings, health }
    }

    /// The probe endpoint's address.
    pub fn health_addr(&self) -> SocketAddr {
        self.health
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Connects (retrying with back-off), polls the task queue until `shutdown` resolves, then
    /// drains: no new tasks are taken, running activities get `worker.shutdown_grace` to finish.
    ///
    /// The SDK's worker is not `Send`: await this on the main task or inside a `LocalSet`.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self { settings, health } = self;
        let metrics = WorkerMetrics::start()?;
        // The SDK's OpenTelemetry plugin: workflow and activity spans continue the trace in each
        // workflow's `_tracer-data` header (no-ops while tracing is off). Workers created from
        // this client get its interceptors.
        let mut resolved = flowgate_temporal::resolve(&settings.temporal)?
            .with_plugin(OpenTelemetryPlugin::builder().build());
        // The client's RPC metrics are exported with the SDK's own.
        resolved.connection.metrics_meter = Some(metrics.client_meter()?);
        let link = TemporalLink::start(resolved, &settings.temporal);
        let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
        let probes = tokio::spawn(health::serve(
            health,
            phase_rx,
            link.clone(),
            metrics.clone(),
        ));
        let _stop_probes = AbortOnDrop(probes);
        let mut shutdown = std::pin::pin!(shutdown);

        let client = tokio::select! {
            client = link.connected() => client,
            () = &mut shutdown => {
                tracing::info!("shutdown before Temporal was reached");
                return Ok(());
            }
        };
        let runtime_options = RuntimeOptions::builder()
            .telemetry_options(metrics.telemetry_options())
            .build()
            .map_err(anyhow::Error::msg)?;
        let runtime = Runtime::from_current_tokio(runtime_options)
            .context("cannot start the Temporal SDK runtime")?;
        let mut worker = Worker::new(&runtime, client, worker_options(&settings, &metrics)?)
            .context("cannot create the Temporal worker")?;
        let stop_polling = worker.shutdown_handle();
        let task_queue = settings.worker.task_queue.clone();
        let run = worker.run();
        let mut run = std::pin::pin!(run);
        phase_tx.send_replace(Phase::Running);
        tracing::info!(%task_queue, "worker polling");
        tokio::select! {
            result = &mut run => {
                return result.context("worker stopped unexpectedly");
            }
            () = &mut shutdown => {}
        }
        phase_tx.send_replace(Phase::Draining);
        tracing::info!(
            grace_ms = settings.worker.shutdown_grace.as_millis() as u64,
            "draining: no new tasks; running activities may finish"
        );
        stop_polling();
        run.await.context("worker failed while draining")?;
        tracing::info!("worker drained and stopped");
        Ok(())
    }
}

fn worker_options(settings: &Settings, metrics: &WorkerMetrics) -> anyhow::Result<WorkerOptions> {
    let w = &settings.worker;
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(w.max_concurrent_workflow_tasks))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(w.max_concurrent_activities))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(w.max_concurrent_activities))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build();
    let mut options = WorkerOptions::new(settings.worker.task_queue.clone())
        .max_cached_workflows(w.max_cached_workflows)
        .tuner(tuner)
        .graceful_shutdown_period(w.shutdown_grace)
        // The order activities serve both workflows.
        .register_activities(OrderActivities {
            order_delay: settings.shopping.order_delay,
            metrics: metrics.orders(),
        })
        .build();
    register_workflows(&mut options, flowgate_workflows::registry::registry().all())?;
    register_internal(&mut options, settings, metrics)?;
    Ok(options)
}

/// Registers every workflow the registry declares on Flowgate's own queue; one without an
/// implementation stops start-up, naming it.
fn register_workflows(options: &mut WorkerOptions, defs: &[WorkflowDef]) -> anyhow::Result<()> {
    for def in defs {
        if def.task_queue != TaskQueue::Worker {
            continue;
        }
        let register = def.register.with_context(|| {
            format!(
                "workflow {} ({}) is registered on the worker's queue but has no implementation (WorkflowDef::implemented_by)",
                def.name, def.temporal_type
            )
        })?;
        register(options).with_context(|| format!("cannot register {}", def.temporal_type))?;
    }
    Ok(())
}

/// Registers Flowgate's own workflows, which no `/v1` route reaches: the delivery of
/// completion webhooks and its activities.
fn register_internal(
    options: &mut WorkerOptions,
    settings: &Settings,
    metrics: &WorkerMetrics,
) -> anyhow::Result<()> {
    options
        .register_workflow::<CallbackDeliveryWorkflow>()
        .context("cannot register the webhook delivery workflow")?;
    options.register_activities(DeliveryActivities {
        settings: settings.webhooks.clone(),
        metrics: metrics.webhooks(),
    });
    Ok(())
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use flowgate_workflows::registry::registry;

    use super::*;

    #[test]
    fn every_workflow_declared_on_the_worker_queue_is_registered() {
        let mut options = WorkerOptions::new("q").build();
        register_workflows(&mut options, registry().all()).unwrap();
        let on_worker: Vec<_> = registry()
            .all()
            .iter()
            .filter(|def| def.task_queue == TaskQueue::Worker)
            .collect();
        assert!(on_worker.len() >= 2);
        for def in on_worker {
            let register = def.register.unwrap();
            assert!(
                register(&mut options).is_err(),
                "{} was registered already, so a second registration is refused",
                def.temporal_type
            );
        }
    }

    #[test]
    fn a_workflow_declared_on_the_worker_queue_without_an_implementation_stops_start_up() {
        let mut forgotten = registry().all()[0].clone();
        forgotten.register = None;
        let mut options = WorkerOptions::new("q").build();
        let error = register_workflows(&mut options, &[forgotten]).unwrap_err();
        assert!(
            error.to_string().contains("has no implementation"),
            "{error}"
        );
    }
}
