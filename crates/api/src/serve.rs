//! The public listener's HTTP/1.1 server: bounded connections that must make progress.
//!
//! `axum::serve` sets no timeouts and accepts every connection, so a client that trickles its
//! headers, opens connections and never uses them, or never reads its answers, holds them for
//! ever. Here a connection that makes no progress for `api.idle_timeout` is closed — it must send
//! a request's headers within it, may stay idle between requests that long, and a write of its
//! answer may wait that long for the client to take a byte ([`stall`]) — and at most
//! `api.max_connections` are open at once: beyond it the listener stops accepting, and new
//! connections wait in the kernel's backlog until one closes. TLS and HTTP/2 end at the ingress
//! or load balancer.

mod stall;
mod unread;

use std::{future::Future, net::SocketAddr, pin::pin, sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo};
use futures::TryFutureExt as _;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tower::ServiceExt as _;
use unread::BodyRead;

/// Limits of the connections a [`serve`] accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Longest time a connection may make no progress: receiving a request's headers, waiting
    /// for the next request, or waiting for the client to take its answer.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets every
/// connection finish the request it is handling (idle ones close at once), and returns when the
/// last one has closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Each connection holds a receiver: `closed()` resolves when the last one is gone.
    let (open_tx, open_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: let connections close first.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            remote,
            router.clone(),
            limits,
            permit,
            open_rx.clone(),
        ));
    }
    drop(listener);
    let _ = open_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    _permit: OwnedSemaphorePermit,
    mut stopping: watch::Receiver<bool>,
) {
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let (mut request, body_read) = BodyRead::watch(request);
        request.extensions_mut().insert(ConnectInfo(remote));
        router
            .clone()
            .oneshot(request)
            .map_ok(move |response| body_read.mark(response))
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    let io = stall::StallGuard::new(stream, limits.idle_timeout);
    let mut connection = pin!(builder.serve_connection(TokioIo::new(io), service));
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = async { stopping.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, %remote, "connection ended with an error");
    }
}
