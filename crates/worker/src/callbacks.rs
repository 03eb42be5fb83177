//! Completion webhooks: the delivery workflow and its activities.
//!
//! The API starts one delivery workflow (`FlowgateCallbackDelivery`, id
//! `flowgate-callbacks/<run id>`) for every run whose start names callbacks. It waits for the
//! run to close (a heartbeating long poll of its close event), then POSTs the notification to
//! every callback whose filter wants that close, signed per Standard Webhooks, each with its own
//! `webhook-id` kept for every attempt. Each attempt is one activity attempt: Temporal retries a
//! failed one with back-off, so a delivery in progress survives restarts of the API, the worker
//! and Temporal. The workflow is Flowgate's own, registered here and not in the public registry,
//! so no `/v1` route starts, reads or lists it.
//!
//! Temporal's own completion callbacks were not used: they send Nexus-format requests that
//! cannot carry Standard Webhooks signatures, and need the server's dynamic configuration.

mod activities;
mod history;
mod metrics;
mod send;
mod workflow;

pub(crate) use activities::DeliveryActivities;
pub(crate) use metrics::WebhookMetrics;
pub(crate) use workflow::CallbackDeliveryWorkflow;
