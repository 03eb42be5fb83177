//! Trace context for the workflows a client starts, without the Temporal worker SDK.
//!
//! The SDK's OpenTelemetry plugin (`temporalio_sdk::opentelemetry`) is part of the worker SDK,
//! which the API does not compile. [`TraceContextInterceptor`] does for a client what the
//! plugin's client interceptor does, byte for byte on the wire: a `StartWorkflow:<type>` CLIENT
//! span, child of the current OpenTelemetry context, whose W3C context (`traceparent`,
//! `tracestate`, `baggage`) travels in the workflow's `_tracer-data` header as a JSON string map.
//! A worker with the plugin continues the trace from there (`RunWorkflow:<type>`, activities).
//!
//! Spans go to the global tracer provider; with none installed (tracing off) they are no-ops and
//! the header is not added.

use std::collections::HashMap;

use futures::future::BoxFuture;
use opentelemetry::{
    Context, KeyValue, global,
    propagation::{Injector, TextMapCompositePropagator, TextMapPropagator},
    trace::{FutureExt as _, SpanKind, Status, TraceContextExt, Tracer as _},
};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use temporalio_client::{
    ClientInterceptor, Next, SignalWithStartWorkflowInput, StartWorkflowInput, StartWorkflowOutput,
    errors::WorkflowStartError,
};
use temporalio_common::{
    data_converters::{
        GenericPayloadConverter, PayloadConverter, SerializationContext, SerializationContextData,
        WorkflowSerializationContext,
    },
    protos::temporal::api::common::v1::{Header, Payload},
};

/// The Temporal header carrying OpenTelemetry context, shared by every Temporal SDK.
pub const TRACE_HEADER_KEY: &str = "_tracer-data";
/// Instrumentation scope of the client spans.
const SCOPE: &str = "flowgate-temporal";
/// The span attribute the SDKs put the workflow id in.
const WORKFLOW_ID_ATTRIBUTE: &str = "temporalWorkflowID";

/// Traces workflow starts and propagates their context to the worker; see the module docs.
#[derive(Debug)]
pub struct TraceContextInterceptor {
    propagator: TextMapCompositePropagator,
}

impl Default for TraceContextInterceptor {
    fn default() -> Self {
        // The plugin's default: W3C Trace Context and W3C Baggage, whatever the global is.
        Self {
            propagator: TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]),
        }
    }
}

type StartResult<'a> = BoxFuture<'a, Result<StartWorkflowOutput, WorkflowStartError>>;

impl TraceContextInterceptor {
    /// An interceptor with the W3C propagators.
    pub fn new() -> Self {
        Self::default()
    }

    fn start_span(&self, workflow_type: &str, workflow_id: &str) -> Context {
        let parent = Context::current();
        let tracer = global::tracer(SCOPE);
        let span = tracer
            .span_builder(format!("StartWorkflow:{workflow_type}"))
            .with_kind(SpanKind::Client)
            .with_attributes([KeyValue::new(WORKFLOW_ID_ATTRIBUTE, workflow_id.to_owned())])
            .start_with_context(&tracer, &parent);
        parent.with_span(span)
    }

    fn inject(&self, context: &Context, header: &mut Option<Header>) {
        let mut carrier = Carrier::default();
        self.propagator.inject_context(context, &mut carrier);
        if !carrier.0.is_empty() {
            header
                .get_or_insert_default()
                .fields
                .insert(TRACE_HEADER_KEY.to_owned(), carrier_payload(&carrier.0));
        }
    }

    fn traced<'a>(&self, context: Context, call: StartResult<'a>) -> StartResult<'a> {
        Box::pin(async move {
            let result = call.with_context(context.clone()).await;
            if let Err(error) = &result {
                let message = format!("{error:?}");
                context.span().add_event(
                    "exception",
                    vec![KeyValue::new("exception.message", message.clone())],
                );
                context.span().set_status(Status::error(message));
            }
            context.span().end();
            result
        })
    }
}

impl ClientInterceptor for TraceContextInterceptor {
    fn start_workflow<'a>(
        &'a self,
        mut input: StartWorkflowInput,
        next: Next<'a, StartWorkflowInput, StartResult<'a>>,
    ) -> StartResult<'a> {
        let context = self.start_span(&input.workflow_type, &input.options.workflow_id);
        self.inject(&context, &mut input.options.header);
        self.traced(context, next.run(input))
    }

    fn signal_with_start_workflow<'a>(
        &'a self,
        mut input: SignalWithStartWorkflowInput,
        next: Next<'a, SignalWithStartWorkflowInput, StartResult<'a>>,
    ) -> StartResult<'a> {
        let context = self.start_span(&input.workflow_type, &input.options.workflow_id);
        self.inject(&context, &mut input.options.header);
        self.traced(context, next.run(input))
    }
}

#[derive(Default)]
struct Carrier(HashMap<String, String>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// The carrier as the SDKs encode it: the default payload converter's `json/plain` map.
fn carrier_payload(carrier: &HashMap<String, String>) -> Payload {
    let converter = PayloadConverter::default();
    let data = SerializationContextData::Workflow(WorkflowSerializationContext::new());
    converter
        .to_payload(&SerializationContext::new(&data, &converter), carrier)
        .expect("a string map serializes to JSON")
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    #[test]
    fn the_header_is_the_w3c_context_as_a_json_string_map() {
        let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let span_id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let context = Context::new().with_remote_span_context(SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ));
        let mut header = None;
        TraceContextInterceptor::new().inject(&context, &mut header);
        let payload = &header.expect("a header").fields[TRACE_HEADER_KEY];
        assert_eq!(payload.metadata["encoding"], b"json/plain");
        let map: HashMap<String, String> = serde_json::from_slice(&payload.data).unwrap();
        assert_eq!(
            map["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }

    #[test]
    fn without_a_context_no_header_is_added() {
        let mut header = None;
        TraceContextInterceptor::new().inject(&Context::new(), &mut header);
        assert!(header.is_none());
    }
}
