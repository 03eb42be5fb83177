//! One Chrome DevTools Protocol connection: commands answered by id, events kept in order.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::{SinkExt as _, StreamExt as _, stream::SplitSink};
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::oneshot};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// How long the browser may take to answer one command.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// A connection to one target (a page): [`Cdp::call`] sends a command and waits for its answer;
/// every event the target sends is kept, in order, for [`Cdp::events`].
pub(super) struct Cdp {
    sink: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    next_id: AtomicU64,
    pending: Pending,
    events: Arc<Mutex<Vec<Value>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Cdp {
    /// Connects to the target's `webSocketDebuggerUrl`.
    pub(super) async fn connect(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("the DevTools WebSocket {url} opens: {e}"));
        let (sink, mut stream) = socket.split();
        let pending: Pending = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        let reader = tokio::spawn({
            let (pending, events) = (pending.clone(), events.clone());
            async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let Ok(message) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    match message["id"].as_u64() {
                        Some(id) => {
                            let waiting = pending.lock().expect("pending commands").remove(&id);
                            if let Some(answer) = waiting {
                                let _ = answer.send(message);
                            }
                        }
                        None => events.lock().expect("events").push(message),
                    }
                }
            }
        });
        Self {
            sink: tokio::sync::Mutex::new(sink),
            next_id: AtomicU64::new(1),
            pending,
            events,
            reader,
        }
    }

    /// Sends `method` with `params` and returns its `result`; panics on a protocol error.
    pub(super) async fn call(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending commands")
            .insert(id, answer);
        let command = json!({"id": id, "method": method, "params": params});
        self.sink
            .lock()
            .await
            .send(Message::text(command.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{method} is sent to the browser: {e}"));
        let answer = tokio::time::timeout(ANSWER_WITHIN, answered)
            .await
            .unwrap_or_else(|_| panic!("the browser answers {method} within {ANSWER_WITHIN:?}"))
            .unwrap_or_else(|_| {
                panic!("the browser closed the connection before answering {method}")
            });
        assert!(
            answer["error"].is_null(),
            "{method} {params}: {}",
            answer["error"]
        );
        answer["result"].clone()
    }

    /// Every event received so far, as `{"method": …, "params": …}`, oldest first.
    pub(super) fn events(&self) -> Vec<Value> {
        self.events.lock().expect("events").clone()
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
