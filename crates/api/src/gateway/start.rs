//! Starting a workflow through the raw `StartWorkflowExecution` RPC.
//!
//! The SDK's `Client::start_workflow` always sends a fresh random request id and drops the
//! response's `started` flag; idempotent starts need both (a stable request id, and whether this
//! call created the run). The call goes through [`Direct`], around the client interceptors, so
//! the trace context is attached here, the way `flowgate_temporal::TraceContextInterceptor` does
//! it.

use std::{collections::HashMap, time::Duration};

use flowgate_temporal::{Direct, Method, Unavailable};
use opentelemetry::{
    Context, KeyValue, global,
    propagation::{Injector, TextMapCompositePropagator, TextMapPropagator},
    trace::{FutureExt as _, SpanKind, Status, TraceContextExt, Tracer as _},
};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use serde_json::{Map, Value};
use temporalio_client::{NamespacedClient as _, tonic::Code, tonic::Status as RpcStatus};
use temporalio_common::protos::temporal::api::{
    common::v1::{Header, Memo, Payloads, SearchAttributes, WorkflowType},
    enums::v1::{WorkflowIdConflictPolicy, WorkflowIdReusePolicy},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{SignalWithStartWorkflowExecutionRequest, StartWorkflowExecutionRequest},
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{Gateway, failure, payload};
use crate::{
    error::{ApiError, FieldError},
    metrics::{StartOutcome, TemporalOperation},
};

/// Everything a start sends.
#[derive(Debug, Clone)]
pub(crate) struct StartSpec {
    /// Temporal workflow type.
    pub workflow_type: String,
    /// Task queue.
    pub task_queue: String,
    /// Workflow id.
    pub workflow_id: String,
    /// The workflow's one JSON argument.
    pub input: Value,
    /// Memo fields, each stored as a `json/plain` payload.
    pub memo: Map<String, Value>,
    /// Search attributes, each a `json/plain` payload of a registered attribute.
    pub search_attributes: Map<String, Value>,
    /// Delay before the first workflow task.
    pub start_delay: Option<Duration>,
    /// What to do when the id was used by a closed run.
    pub id_reuse_policy: WorkflowIdReusePolicy,
    /// What to do when a run with the id is running.
    pub id_conflict_policy: WorkflowIdConflictPolicy,
    /// Temporal request id; the server deduplicates retries of one request id. Random if unset.
    pub request_id: Option<String>,
    /// A message delivered with the start, atomically: signal- or update-with-start.
    pub with: Option<WithStart>,
}

/// A message a start delivers to the run it starts, or to the one running under its id.
#[derive(Debug, Clone)]
pub(crate) enum WithStart {
    /// Signal-with-start.
    Signal {
        /// Signal name.
        name: String,
        /// Its argument.
        input: Option<Value>,
    },
    /// Update-with-start: the update's result is waited for up to `wait`.
    Update {
        /// Update name.
        name: String,
        /// Its argument.
        input: Option<Value>,
        /// Its id (Temporal deduplicates updates by id within a run).
        update_id: String,
        /// How long to wait for its result.
        wait: Duration,
    },
}

/// What Temporal answered to a start.
#[derive(Debug)]
pub(crate) struct StartedRun {
    /// The run this start created or (use-existing policy, duplicate request) found.
    pub run_id: String,
    /// Temporal's `started`: false when the use-existing policy returned a running run. A
    /// retried request id is reported as started by the server.
    pub started: bool,
    /// An update-with-start's result, or why there is none (the run started all the same).
    pub update: Option<Result<Value, ApiError>>,
}

impl StartedRun {
    /// Run `run_id`, created or not (`started`), without an update.
    fn new(run_id: String, started: bool) -> Self {
        Self {
            run_id,
            started,
            update: None,
        }
    }
}

impl Gateway {
    /// Starts a workflow as `spec` says. A conflict the policies do not resolve is
    /// [`ApiError::WorkflowAlreadyExists`].
    pub(crate) async fn start_execution(&self, spec: &StartSpec) -> Result<StartedRun, ApiError> {
        let result = self
            .observed(TemporalOperation::Start, self.start_raw(spec))
            .await;
        self.metrics.workflow_start(
            &spec.workflow_type,
            match &result {
                Ok(run) if !run.started => StartOutcome::AlreadyExists,
                other => StartOutcome::of(other),
            },
        );
        result
    }

    async fn start_raw(&self, spec: &StartSpec) -> Result<StartedRun, ApiError> {
        if let Some(WithStart::Update { .. }) = &spec.with {
            let client = self.link.client()?;
            let trace = start_span(&spec.workflow_type, &spec.workflow_id);
            let request = start_request(&client.namespace(), &client.identity(), spec, &trace)?;
            return Box::pin(self.update_with_start(client, spec, request, trace)).await;
        }
        let mut direct = self.link.direct()?;
        let trace = start_span(&spec.workflow_type, &spec.workflow_id);
        let request = start_request(direct.namespace(), direct.identity(), spec, &trace)?;
        // Sent again only with the same request id, which Temporal deduplicates.
        let result = match &spec.with {
            Some(WithStart::Signal { name, input }) => {
                let request = signal_with_start_request(request, name, input.as_ref())?;
                self.send_start(
                    &mut direct,
                    |s, r| s.signal_with_start_workflow_execution(r),
                    &request,
                    &trace,
                    |r| StartedRun::new(r.run_id.clone(), r.started),
                )
                .await
            }
            _ => {
                self.send_start(
                    &mut direct,
                    |s, r| s.start_workflow_execution(r),
                    &request,
                    &trace,
                    |r| StartedRun::new(r.run_id.clone(), r.started),
                )
                .await
            }
        };
        end_span(
            &trace,
            match &result {
                Ok(Ok(_)) => None,
                Ok(Err(status)) => Some(format!("{:?}: {}", status.code(), status.message())),
                Err(unavailable) => Some(unavailable.to_string()),
            },
        );
        match result? {
            Ok(run) => Ok(run),
            Err(status) => Err(start_error(spec, status)),
        }
    }
}

impl Gateway {
    /// Sends a start `request` through `method` within `temporal.rpc_timeout`, in `trace`.
    async fn send_start<Req: Clone, Resp>(
        &self,
        direct: &mut Direct,
        method: Method<Req, Resp>,
        request: &Req,
        trace: &Context,
        run: fn(&Resp) -> StartedRun,
    ) -> Result<Result<StartedRun, RpcStatus>, Unavailable> {
        let call = direct
            .call(method, self.rpc_timeout, || request.clone())
            .with_context(trace.clone());
        let answer = self.link.bounded(self.rpc_timeout, call).await?;
        Ok(answer.map(|r| run(r.get_ref())))
    }
}

/// What Temporal's refusal of a start means to the client.
pub(super) fn start_error(spec: &StartSpec, status: RpcStatus) -> ApiError {
    match status.code() {
        Code::AlreadyExists => ApiError::WorkflowAlreadyExists(spec.workflow_id.clone()),
        Code::InvalidArgument => {
            let message = status.message().to_owned();
            // The request was checked before it left; what Temporal still refuses is the
            // namespace's search attribute schema (or a limit of the server).
            if message.to_lowercase().contains("search attribute") {
                ApiError::Validation(vec![FieldError::new("/search_attributes", message)])
            } else {
                ApiError::TemporalRejected(message)
            }
        }
        _ => failure::rpc_error(status),
    }
}

/// The `StartWorkflowExecution` request of `spec`, traced by `trace`.
fn start_request(
    namespace: &str,
    identity: &str,
    spec: &StartSpec,
    trace: &Context,
) -> Result<StartWorkflowExecutionRequest, ApiError> {
    {
        let encode = |map: &Map<String, Value>| {
            map.iter()
                .map(|(k, v)| Ok((k.clone(), payload::json_payload(v)?)))
                .collect::<Result<HashMap<_, _>, serde_json::Error>>()
        };
        let memo = encode(&spec.memo).map_err(ApiError::internal)?;
        let search_attributes = encode(&spec.search_attributes).map_err(ApiError::internal)?;
        let input = payload::json_payload(&spec.input).map_err(ApiError::internal)?;
        let request = StartWorkflowExecutionRequest {
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            workflow_id: spec.workflow_id.clone(),
            workflow_type: Some(WorkflowType {
                name: spec.workflow_type.clone(),
            }),
            task_queue: Some(TaskQueue {
                name: spec.task_queue.clone(),
                ..Default::default()
            }),
            input: Some(Payloads {
                payloads: vec![input],
            }),
            request_id: spec
                .request_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            workflow_id_reuse_policy: spec.id_reuse_policy as i32,
            workflow_id_conflict_policy: spec.id_conflict_policy as i32,
            memo: (!memo.is_empty()).then_some(Memo { fields: memo }),
            search_attributes: (!search_attributes.is_empty()).then_some(SearchAttributes {
                indexed_fields: search_attributes,
            }),
            workflow_start_delay: spec.start_delay.and_then(|d| d.try_into().ok()),
            header: trace_header(trace),
            ..Default::default()
        };
        Ok(request)
    }
}

/// `start` as a signal-with-start of signal `name` with `input`.
fn signal_with_start_request(
    start: StartWorkflowExecutionRequest,
    name: &str,
    input: Option<&Value>,
) -> Result<SignalWithStartWorkflowExecutionRequest, ApiError> {
    Ok(SignalWithStartWorkflowExecutionRequest {
        namespace: start.namespace,
        workflow_id: start.workflow_id,
        workflow_type: start.workflow_type,
        task_queue: start.task_queue,
        input: start.input,
        identity: start.identity,
        request_id: start.request_id,
        workflow_id_reuse_policy: start.workflow_id_reuse_policy,
        workflow_id_conflict_policy: start.workflow_id_conflict_policy,
        signal_name: name.to_owned(),
        signal_input: Some(Payloads {
            payloads: payload::arguments(input)
                .map_err(ApiError::internal)?
                .payloads,
        }),
        memo: start.memo,
        search_attributes: start.search_attributes,
        header: start.header,
        workflow_start_delay: start.workflow_start_delay,
        ..Default::default()
    })
}

/// A `StartWorkflow:<type>` client span, child of the request's span.
fn start_span(workflow_type: &str, workflow_id: &str) -> Context {
    // Nothing would see the span: no name to format, no tracer to ask.
    if !flowgate_telemetry::traces_exported() {
        return Context::new();
    }
    let parent = tracing::Span::current().context();
    let tracer = global::tracer("flowgate-api");
    let span = tracer
        .span_builder(format!("StartWorkflow:{workflow_type}"))
        .with_kind(SpanKind::Client)
        .with_attributes([KeyValue::new("temporalWorkflowID", workflow_id.to_owned())])
        .start_with_context(&tracer, &parent);
    parent.with_span(span)
}

pub(super) fn end_span(context: &Context, error: Option<String>) {
    if let Some(message) = error {
        context.span().set_status(Status::error(message));
    }
    context.span().end();
}

/// The span's W3C context in Temporal's `_tracer-data` header, as every SDK reads it; `None`
/// while tracing is off.
fn trace_header(context: &Context) -> Option<Header> {
    #[derive(Default)]
    struct Carrier(HashMap<String, String>);
    impl Injector for Carrier {
        fn set(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
    }
    if !flowgate_telemetry::traces_exported() {
        return None;
    }
    let propagator = TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]);
    let mut carrier = Carrier::default();
    propagator.inject_context(context, &mut carrier);
    if carrier.0.is_empty() {
        return None;
    }
    let payload = payload::json_payload(&carrier.0).ok()?;
    Some(Header {
        fields: [(flowgate_temporal::TRACE_HEADER_KEY.to_owned(), payload)].into(),
    })
}
