//! `flowgate-null-frontend`: a stand-in for Temporal's frontend **for the benchmark only**. It
//! answers, at once and from nothing, the few `WorkflowService` calls Flowgate's API makes on its
//! hot paths, so the API can be measured against its own limit instead of Temporal's:
//!
//! - `GetSystemInfo` (the client's connect and the API's reachability check),
//! - `StartWorkflowExecution` (a new run id, `started`),
//! - `DescribeWorkflowExecution` (a completed `ShoppingWorkflow` run of the asked id),
//! - `GetWorkflowExecutionHistory` (a completed run: one `WorkflowExecutionCompleted` event with
//!   a `json/plain` result, whatever the request waits for).
//!
//! Every other method answers `Unimplemented`. Nothing is stored: a started run is not
//! remembered, every id describes as completed. It is no model of Temporal and must never stand in
//! for one in tests of behaviour; those run against a real dev server.
//!
//! `flowgate-null-frontend --port 7233` serves on `127.0.0.1:<port>` on one thread until killed.

mod answers;

use std::{
    convert::Infallible,
    net::{Ipv4Addr, SocketAddr},
    task::{Context, Poll},
};

use tonic::{
    Status,
    body::Body,
    codegen::{Body as HttpBody, BoxFuture, StdError, http},
    server::{Grpc, NamedService},
};

/// The gRPC service every method lives under.
const SERVICE: &str = "temporal.api.workflowservice.v1.WorkflowService";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let port = match port_argument(std::env::args().skip(1)) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("flowgate-null-frontend: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("flowgate-null-frontend: cannot listen on {address}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let served = tonic::transport::Server::builder()
        .serve_with_incoming(
            NullFrontend,
            tonic::transport::server::TcpIncoming::from(listener),
        )
        .await;
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flowgate-null-frontend: cannot serve on {address}: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--port N` (the only argument).
fn port_argument(mut args: impl Iterator<Item = String>) -> Result<u16, String> {
    match (args.next().as_deref(), args.next(), args.next()) {
        (Some("--port"), Some(port), None) => {
            port.parse().map_err(|_| format!("not a port: {port:?}"))
        }
        _ => Err("usage: flowgate-null-frontend --port <port>".to_owned()),
    }
}

/// The service: routes each method to its canned answer.
#[derive(Debug, Clone, Copy)]
struct NullFrontend;

impl NamedService for NullFrontend {
    const NAME: &'static str = SERVICE;
}

impl<B> tower::Service<http::Request<B>> for NullFrontend
where
    B: HttpBody + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|path| path.strip_prefix(SERVICE))
            .and_then(|path| path.strip_prefix('/'))
            .unwrap_or_default();
        match method {
            "GetSystemInfo" => unary(request, answers::system_info),
            "StartWorkflowExecution" => unary(request, answers::start),
            "DescribeWorkflowExecution" => unary(request, answers::describe),
            "GetWorkflowExecutionHistory" => unary(request, answers::history),
            other => {
                let status = Status::unimplemented(format!(
                    "the null frontend does not implement {other:?}"
                ));
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

/// Decodes the request, answers it with `answer`, encodes the answer: tonic's unary path, as a
/// generated server runs it.
fn unary<B, Req, Resp>(
    request: http::Request<B>,
    answer: fn(Req) -> Result<Resp, Status>,
) -> BoxFuture<http::Response<Body>, Infallible>
where
    B: HttpBody + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
{
    Box::pin(async move {
        let method = tower::service_fn(move |request: tonic::Request<Req>| {
            std::future::ready(answer(request.into_inner()).map(tonic::Response::new))
        });
        let mut grpc = Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default());
        Ok(grpc.unary(method, request).await)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_the_only_argument() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            port_argument(args(&["--port", "7233"]).into_iter()),
            Ok(7233)
        );
        assert!(port_argument(args(&["--port"]).into_iter()).is_err());
        assert!(port_argument(args(&["--port", "x"]).into_iter()).is_err());
        assert!(port_argument(args(&["--port", "1", "2"]).into_iter()).is_err());
    }
}
