//! An OTLP trace receiver inside the test process, standing in for an OpenTelemetry collector:
//! a real OTLP/gRPC `TraceService` (tonic) and a real OTLP/HTTP `POST /v1/traces` endpoint
//! (protobuf), both keeping every span they receive, flattened for assertions.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{AnyValue, KeyValue, any_value::Value as Any},
    trace::v1::span::SpanKind,
};
use prost::Message as _;
use serde_json::Value;
use tokio::{net::TcpListener, task::AbortHandle};

/// One received span, flattened: ids in lowercase hex, attributes as JSON values.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of the resource that sent it.
    pub service_name: String,
    /// Instrumentation scope name.
    pub scope: String,
    /// Span name.
    pub name: String,
    /// `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    pub kind: &'static str,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits; `None` for a root span.
    pub parent_span_id: Option<String>,
    /// Span attributes.
    pub attributes: BTreeMap<String, Value>,
    /// Resource attributes.
    pub resource: BTreeMap<String, Value>,
    /// 0 unset, 1 ok, 2 error.
    pub status_code: i32,
}

impl ReceivedSpan {
    /// An attribute's value.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }
}

type Store = Arc<Mutex<Vec<ReceivedSpan>>>;

/// A running receiver; stops when dropped.
pub struct TraceReceiver {
    grpc: SocketAddr,
    http: SocketAddr,
    spans: Store,
    tasks: Vec<AbortHandle>,
}

impl TraceReceiver {
    /// Starts both endpoints on free loopback ports.
    pub async fn start() -> Self {
        let spans = Store::default();
        let grpc_listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
        let grpc = grpc_listener.local_addr().expect("bound");
        let service = TraceServiceServer::new(Collector(spans.clone()));
        let incoming = tonic::transport::server::TcpIncoming::from(grpc_listener);
        let grpc_task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .serve_with_incoming(service, incoming)
                .await
                .expect("the OTLP/gRPC receiver serves");
        });
        let http_listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
        let http = http_listener.local_addr().expect("bound");
        let router = Router::new()
            .route("/v1/traces", post(export_http))
            .with_state(spans.clone());
        let http_task = tokio::spawn(async move {
            axum::serve(http_listener, router)
                .await
                .expect("the OTLP/HTTP receiver serves");
        });
        Self {
            grpc,
            http,
            spans,
            tasks: vec![grpc_task.abort_handle(), http_task.abort_handle()],
        }
    }

    /// `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT` with protocol `grpc`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// `http://127.0.0.1:<port>`, a base endpoint for protocol `http/protobuf` (the exporter
    /// adds `/v1/traces`).
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Everything received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("not poisoned").clone()
    }

    /// Polls until `check` finds what it needs in the received spans, or panics after `timeout`
    /// naming `what` and listing what did arrive.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&[ReceivedSpan]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = check(&self.spans()) {
                return found;
            }
            if tokio::time::Instant::now() >= deadline {
                let received: Vec<String> = self
                    .spans()
                    .iter()
                    .map(|s| format!("{} {} ({})", s.service_name, s.name, s.trace_id))
                    .collect();
                panic!("timed out after {timeout:?} waiting for {what}; received: {received:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TraceReceiver {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Collector(Store);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        record(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn export_http(State(spans): State<Store>, body: Bytes) -> (StatusCode, Vec<u8>) {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            record(&spans, request);
            (
                StatusCode::OK,
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        }
        Err(_) => (StatusCode::BAD_REQUEST, Vec::new()),
    }
}

fn record(store: &Store, request: ExportTraceServiceRequest) {
    let mut spans = store.lock().expect("not poisoned");
    for resource_spans in request.resource_spans {
        let resource = attributes(
            resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default(),
        );
        let service_name = resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
            for span in scope_spans.spans {
                spans.push(ReceivedSpan {
                    service_name: service_name.clone(),
                    scope: scope.clone(),
                    kind: kind(span.kind),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: (!span.parent_span_id.is_empty())
                        .then(|| hex(&span.parent_span_id)),
                    attributes: attributes(span.attributes),
                    resource: resource.clone(),
                    status_code: span.status.map(|s| s.code).unwrap_or_default(),
                    name: span.name,
                });
            }
        }
    }
}

fn kind(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Internal) => "internal",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        _ => "unspecified",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(list: Vec<KeyValue>) -> BTreeMap<String, Value> {
    list.into_iter()
        .map(|kv| (kv.key, kv.value.map(json).unwrap_or(Value::Null)))
        .collect()
}

fn json(value: AnyValue) -> Value {
    match value.value {
        Some(Any::StringValue(s)) => Value::from(s),
        Some(Any::BoolValue(b)) => Value::from(b),
        Some(Any::IntValue(i)) => Value::from(i),
        Some(Any::DoubleValue(d)) => Value::from(d),
        Some(Any::ArrayValue(a)) => Value::Array(a.values.into_iter().map(json).collect()),
        Some(other) => Value::from(format!("{other:?}")),
        None => Value::Null,
    }
}
