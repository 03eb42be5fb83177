//! The stream's reconnects against a scripted server: connections cut mid-message, refused
//! resumes, repeated events.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::*;

/// What the scripted server does with one connection.
enum Answer {
    /// A 200 event stream of these chunks; then the connection is cut (`close`: without ending
    /// the body) or held open.
    Stream {
        chunks: Vec<&'static str>,
        cut: bool,
    },
    /// An error status with a problem document.
    Problem(u16),
}

/// A server answering its connections as `script` says (the last answer repeats); returns its
/// base URL and the request heads it read.
async fn serve(script: Vec<Answer>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for n in 0.. {
            let (socket, _) = listener.accept().await.expect("accept");
            let answer = &script[n.min(script.len() - 1)];
            if let Some(socket) = answer_with(socket, answer, &seen).await {
                held.push(socket);
            }
        }
    });
    (base, heads)
}

async fn answer_with(
    mut socket: TcpStream,
    answer: &Answer,
    heads: &Mutex<Vec<String>>,
) -> Option<TcpStream> {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    heads
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).to_lowercase());
    match answer {
        Answer::Problem(status) => {
            let body = format!(
                r#"{{"type":"urn:flowgate:problem:unavailable","title":"Unavailable","status":{status},"detail":"try again","code":"unavailable"}}"#
            );
            let reply = format!(
                "HTTP/1.1 {status} Oops\r\ncontent-type: application/problem+json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.ok();
            None
        }
        Answer::Stream { chunks, cut } => {
            let mut reply = String::from(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                 transfer-encoding: chunked\r\n\r\n",
            );
            for chunk in chunks {
                reply.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
            }
            socket.write_all(reply.as_bytes()).await.ok();
            (!cut).then_some(socket)
        }
    }
}

fn event(id: i64, kind: &str) -> String {
    format!(
        "id: {id}\r\nevent: {kind}\r\ndata: {{\"event_id\":{id},\"run_id\":\"r1\",\"time\":null,\r\ndata: \"type\":\"{kind}\"}}\r\n\r\n"
    )
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

#[tokio::test]
async fn a_cut_connection_resumes_after_the_last_event_without_repeating_it() {
    let first = leak(format!(
        "retry: 10\r\n{}:heartbeat\r\n\r\n{}id: 3\r\nevent: activity_sch",
        event(1, "workflow_started"),
        event(2, "timer_started")
    ));
    let resumed = leak(format!(
        "{}{}{}",
        event(2, "timer_started"),
        event(3, "nexus_operation_started"),
        event(4, "workflow_completed")
    ));
    let (base, heads) = serve(vec![
        Answer::Stream {
            chunks: vec![first],
            cut: true,
        },
        Answer::Problem(503),
        // Held open: the stream ends by itself after the run's last event.
        Answer::Stream {
            chunks: vec![resumed],
            cut: false,
        },
    ])
    .await;
    let client = Client::new(&base).expect("client");

    let events: Vec<_> = tokio::time::timeout(
        Duration::from_secs(10),
        client
            .events("order 44", &EventsOptions::default())
            .collect(),
    )
    .await
    .expect("the stream ends with the run");

    let events: Vec<WorkflowEvent> = events.into_iter().map(|e| e.expect("no error")).collect();
    let ids: Vec<(i64, &str)> = events
        .iter()
        .map(|e| (e.event_id, e.event_type()))
        .collect();
    assert_eq!(
        ids,
        [
            (1, "workflow_started"),
            (2, "timer_started"),
            (3, "nexus_operation_started"),
            (4, "workflow_completed")
        ]
    );
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(heads[0].starts_with("get /v1/workflows/order%2044/events "));
    assert!(heads[0].contains("accept: text/event-stream"));
    assert!(!heads[0].contains("last-event-id"), "{}", heads[0]);
    for resume in &heads[1..] {
        assert!(resume.contains("last-event-id: 2\r\n"), "{resume}");
        assert!(
            resume.contains("?run_id=r1 "),
            "pinned to its run: {resume}"
        );
    }
}

#[tokio::test]
async fn failed_reconnects_in_a_row_end_the_stream_with_the_last_error() {
    let first = leak(format!("retry: 1\n{}", event(1, "workflow_started")));
    let (base, heads) = serve(vec![
        Answer::Stream {
            chunks: vec![first],
            cut: true,
        },
        Answer::Problem(503),
    ])
    .await;
    let client = Client::new(&base).expect("client");

    let items: Vec<_> = tokio::time::timeout(
        Duration::from_secs(10),
        client
            .events("order-44", &EventsOptions::default())
            .collect(),
    )
    .await
    .expect("the stream gives up");

    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().expect("the first event").event_id, 1);
    let error = items[1].as_ref().expect_err("the last error");
    assert_eq!(error.code(), Some("unavailable"), "{error:?}");
    let connections = heads.lock().unwrap().len() as u32;
    assert_eq!(connections, 1 + MAX_FAILED_RECONNECTS);
}

#[tokio::test]
async fn an_error_of_the_first_request_is_the_only_item() {
    let (base, heads) = serve(vec![Answer::Problem(503)]).await;
    let client = Client::new(&base).expect("client");

    let items: Vec<_> = client
        .events("order-44", &EventsOptions::default())
        .collect()
        .await;

    assert!(
        matches!(items.as_slice(), [Err(e)] if e.code() == Some("unavailable")),
        "{items:?}"
    );
    assert_eq!(heads.lock().unwrap().len(), 1);
}
