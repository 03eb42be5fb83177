//! A TCP proxy that can stop forwarding for a while: a slow network between a process and
//! Temporal, without closing any connection.
//!
//! Every accepted connection gets its own upstream connection; bytes are copied both ways. While
//! paused, what arrives is held (in the proxy and the kernel's buffers) and forwarded when the
//! pause ends, so calls in flight are late, not lost.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, tcp::OwnedReadHalf, tcp::OwnedWriteHalf},
    task::{JoinHandle, JoinSet},
    time::Instant,
};

/// When forwarding resumes; `None` while it runs.
type Pause = Arc<Mutex<Option<Instant>>>;

/// A running proxy on `127.0.0.1`; stops (and drops its connections) when dropped.
pub struct PausableProxy {
    addr: SocketAddr,
    pause: Pause,
    task: JoinHandle<()>,
}

impl PausableProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream` (`host:port`).
    pub async fn start(upstream: impl Into<String>) -> Self {
        let upstream = upstream.into();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the proxy");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let pause = Pause::default();
        let task = tokio::spawn(accept(listener, upstream, pause.clone()));
        Self { addr, pause, task }
    }

    /// `host:port` to connect to instead of the upstream.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Stops forwarding, both ways and on every connection, for `duration` from now; the
    /// connections stay open. Returns at once.
    pub fn pause_for(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let mut pause = self.pause.lock().expect("pause lock");
        *pause = Some(pause.map_or(until, |current| current.max(until)));
    }
}

impl Drop for PausableProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, upstream: String, pause: Pause) {
    // Owned here, so aborting this task closes every connection too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                connections.spawn(forward(client, upstream.clone(), pause.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn forward(client: TcpStream, upstream: String, pause: Pause) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        copy(client_read, server_write, pause.clone()),
        copy(server_read, client_write, pause),
    );
}

/// Copies until either side closes, holding each chunk while paused.
async fn copy(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, pause: Pause) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        wait_unpaused(&pause).await;
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Returns once no pause is in force (a pause may be extended while waiting).
async fn wait_unpaused(pause: &Pause) {
    loop {
        let until = *pause.lock().expect("pause lock");
        match until {
            Some(until) if Instant::now() < until => tokio::time::sleep_until(until).await,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that echoes every byte back.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
        stream.write_all(message).await.unwrap();
        let mut answer = vec![0u8; message.len()];
        stream.read_exact(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn bytes_pass_both_ways_and_a_pause_delays_them_without_closing_the_connection() {
        // Arrange
        let proxy = PausableProxy::start(echo_server().await.to_string()).await;
        let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(round_trip(&mut stream, b"before").await, b"before");

        // Act
        let pause = Duration::from_millis(400);
        let paused = Instant::now();
        proxy.pause_for(pause);
        let answer = round_trip(&mut stream, b"during").await;

        // Assert: held for the whole pause, then delivered on the same connection.
        assert_eq!(answer, b"during");
        assert!(
            paused.elapsed() >= pause,
            "forwarded after {:?}",
            paused.elapsed()
        );
        assert_eq!(round_trip(&mut stream, b"after").await, b"after");
    }
}
