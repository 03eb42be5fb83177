//! `flowgate-floor`: the least an HTTP-to-Temporal gateway can do, for the capacity benchmark.
//! It is what Flowgate's API is measured against in the same run:
//!
//! - `POST /v1/workflow-types/shopping/start`: parses the same JSON body as Flowgate's route
//!   (`{"input": {"items": [{"fruit": …, "amount": …}]}}`), makes the same unary
//!   `StartWorkflowExecution` call (the generated `WorkflowServiceClient` over a tonic `Channel`
//!   with the Temporal client's settings: connect timeout, HTTP/2 keep-alive, no compression, the
//!   call's deadline) and answers 202 with the workflow and run ids: the floor of "HTTP in, gRPC
//!   out";
//! - `POST /bare/v1/workflow-types/shopping/start`: the same parsing and answer without the call,
//!   for scale: what axum and hyper alone cost.
//!
//! No validation beyond the types, no authentication, limits, metrics, logs or traces: those are
//! what the comparison prices. One thread, as the API runs by default.
//!
//! `flowgate-floor --port 8000 --temporal 127.0.0.1:7233`

use std::{net::SocketAddr, time::Duration};

use anyhow::Context as _;
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use temporalio_common::protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowType},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        StartWorkflowExecutionRequest, workflow_service_client::WorkflowServiceClient,
    },
};
use tonic::transport::{Channel, Endpoint};

/// The API's defaults: `temporal.rpc_timeout`, `temporal.connect_timeout`, and the Temporal
/// client's HTTP/2 keep-alive.
const RPC_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(15);

/// Route body: the shopping workflow's input, as `POST /v1/workflow-types/shopping/start` takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartIn {
    input: ShoppingList,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ShoppingList {
    items: Vec<Item>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Item {
    fruit: String,
    amount: u32,
}

#[derive(Clone)]
struct Upstream {
    client: WorkflowServiceClient<Channel>,
    identity: String,
    task_queue: String,
}

fn main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(run(std::env::args().skip(1).collect())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flowgate-floor: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let (port, temporal) = match args.as_slice() {
        [p, port, t, temporal] if p == "--port" && t == "--temporal" => {
            (port.parse::<u16>().context("--port")?, temporal.clone())
        }
        _ => anyhow::bail!("usage: flowgate-floor --port <port> --temporal <host:port>"),
    };
    let channel = Endpoint::from_shared(format!("http://{temporal}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .keep_alive_while_idle(true)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("cannot connect to {temporal}"))?;
    let upstream = Upstream {
        client: WorkflowServiceClient::new(channel),
        identity: format!("flowgate-floor@localhost:{}", std::process::id()),
        task_queue: std::env::var("FLOOR_TASK_QUEUE").unwrap_or_else(|_| "shopping-tasks".into()),
    };
    let app = Router::new()
        .route("/v1/workflow-types/shopping/start", post(start_workflow))
        .route(
            "/bare/v1/workflow-types/shopping/start",
            post(start_nothing),
        )
        .with_state(upstream);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// Parses, starts the workflow over gRPC, answers 202.
async fn start_workflow(State(upstream): State<Upstream>, Json(body): Json<StartIn>) -> Response {
    let workflow_id = format!("shopping-workflow-{}", uuid::Uuid::new_v4());
    let input = match serde_json::to_vec(&body.input) {
        Ok(data) => Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data,
            ..Default::default()
        },
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
        }
    };
    let request = StartWorkflowExecutionRequest {
        namespace: "default".to_owned(),
        identity: upstream.identity.clone(),
        workflow_id: workflow_id.clone(),
        workflow_type: Some(WorkflowType {
            name: "ShoppingWorkflow".to_owned(),
        }),
        task_queue: Some(TaskQueue {
            name: upstream.task_queue.clone(),
            ..Default::default()
        }),
        input: Some(Payloads {
            payloads: vec![input],
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let mut request = tonic::Request::new(request);
    request.set_timeout(RPC_TIMEOUT);
    let mut client = upstream.client;
    match client.start_workflow_execution(request).await {
        Ok(answer) => (
            StatusCode::ACCEPTED,
            Json(json!({"workflow_id": workflow_id, "run_id": answer.get_ref().run_id})),
        )
            .into_response(),
        Err(status) => (StatusCode::BAD_GATEWAY, status.message().to_owned()).into_response(),
    }
}

/// Parses and answers 202, with no call.
async fn start_nothing(Json(body): Json<StartIn>) -> Response {
    let workflow_id = format!("shopping-workflow-{}", uuid::Uuid::new_v4());
    let items = body.input.items.len();
    (
        StatusCode::ACCEPTED,
        Json(json!({"workflow_id": workflow_id, "items": items})),
    )
        .into_response()
}
