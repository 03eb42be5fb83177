//! A typed async client of the Flowgate HTTP API (`docs/openapi.json`).
//!
//! It covers the guide's client usage — start a shopping workflow and wait for its result, start
//! one without waiting, read its status, wait for a workflow to end — and the `/v1` API: start
//! any registered workflow with options, bounded waits and idempotency keys, describe, result,
//! signals, queries, updates, cancel, terminate and list — and a workflow's events, live
//! ([`Client::events`]) or as its history so far ([`Client::history`]); and [`verify_webhook`]
//! checks the completion webhooks it sends.
//!
//! Every error answer of the API is an RFC 9457 problem document, returned as
//! [`Error::Problem`] with its stable `code` and, for validation errors, a JSON pointer per
//! offending field. Workflow ids are percent-encoded as one path segment, so ids with `/`,
//! spaces, `%` or non-ASCII characters round-trip (the dot-segments `.` and `..` cannot be sent
//! as ids: URL normalisation removes them).
//!
//! Waiting calls are long polls the server holds (bounded by its `api.result_wait`); the client
//! timeout of such a request is its wait plus [`ClientBuilder::timeout`].
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use flowgate_client::{Client, RunStatus};
//! use flowgate_workflows::shopping::{Fruit, ShoppingItem, ShoppingList};
//!
//! # async fn guide() -> Result<(), flowgate_client::Error> {
//! let client = Client::new("http://localhost:8000")?;
//! let list = ShoppingList {
//!     items: vec![
//!         ShoppingItem { fruit: Fruit::Apple, amount: 5 },
//!         ShoppingItem { fruit: Fruit::Banana, amount: 3 },
//!     ],
//! };
//!
//! // Synchronous trigger: the answer carries the result.
//! let run = client.shopping_sync(&list).await?;
//! assert_eq!(run.result.as_deref(), Some("Ordered 5 Apples...Ordered 3 Bananas..."));
//!
//! // Asynchronous trigger, then wait for the workflow to end (at most two minutes).
//! let started = client.shopping_async(&list).await?;
//! let done = client.wait_for_result(&started.workflow_id, Duration::from_secs(120)).await?;
//! assert_eq!(done.status, RunStatus::Completed);
//!
//! // Temporal's status and times.
//! let status = client.status(&started.workflow_id).await?;
//! assert_eq!(status.status, "COMPLETED");
//! # Ok(())
//! # }
//! ```
//!
//! [`Client::events`] watches a run as it goes: a [`Stream`](futures::Stream) of typed
//! [`WorkflowEvent`]s that ends after the run's last event. The API ends a stream after its
//! `api.events.max_age` and when a replica shuts down; the client then reconnects with
//! `Last-Event-ID` by itself, so every event comes once, in order. Types this client does not
//! know come as [`EventKind::Other`].
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use flowgate_client::{Client, EventKind, EventsOptions};
//! use flowgate_workflows::shopping::OrderProgress;
//!
//! # async fn watch(client: &Client) -> Result<(), flowgate_client::Error> {
//! let mut events = client.events("order-44", &EventsOptions::default());
//! while let Some(event) = events.try_next().await? {
//!     match &event.kind {
//!         EventKind::Progress { .. } => {
//!             let progress: OrderProgress = event.progress_as()?.expect("a progress event");
//!             println!("{} of {} ordered", progress.ordered, progress.total);
//!         }
//!         EventKind::WorkflowCompleted { result } => println!("done: {result}"),
//!         other => println!("{}", other.name()),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod client;
mod error;
mod event_kind;
mod events;
mod guide;
mod options;
mod sse;
mod types;
mod v1;
mod watch;
mod webhooks;

pub use client::{Client, ClientBuilder};
pub use error::{Error, FieldError, Problem};
pub use event_kind::EventKind;
pub use events::{History, WorkflowEvent};
pub use flowgate_workflows::callbacks::{
    Callback, CallbackEvent, CallbackState, DeliveryState, DeliveryStatus, WebhookNotification,
};
pub use options::{
    Arg, EventsOptions, IdConflictPolicy, IdReusePolicy, StartMessage, StartOptions,
};
pub use types::{
    ErrorInfo, MessageReply, Run, RunStatus, RunUpdate, Started, Updated, Workflow, WorkflowPage,
    WorkflowRun, WorkflowStatus, WorkflowSummary,
};
pub use v1::WorkflowPages;
pub use watch::EventStream;
pub use webhooks::{WebhookError, verify_webhook, verify_webhook_at};
