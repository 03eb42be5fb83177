//! `GET /v1/workflows/{id}/events`: a workflow's history as typed events, live over Server-Sent
//! Events and resumable, or as one JSON document.

use std::time::Duration;

use flowgate_testkit::{TestEnv, eventually, metrics, temporal};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    json, problem,
    v1_support::{get, header, post, shopping_start},
};

/// One message of an event stream.
#[derive(Debug, Clone, PartialEq)]
struct Message {
    id: String,
    event: String,
    data: Value,
}

/// Reads an event stream message by message, as an `EventSource` would.
struct Stream {
    response: Response,
    buffer: String,
    /// Comment lines seen (heartbeats).
    comments: usize,
}

impl Stream {
    /// `GET path` as a stream, resuming after `last_event_id`; asserts a 200 event stream.
    async fn open(env: &TestEnv, path: &str, last_event_id: Option<&str>) -> Self {
        let mut headers = vec![("accept", "text/event-stream")];
        if let Some(id) = last_event_id {
            headers.push(("last-event-id", id));
        }
        let response = get(env, path, &headers).await;
        assert_eq!(response.status(), StatusCode::OK, "a stream opens");
        assert_eq!(header(&response, "content-type"), "text/event-stream");
        assert_eq!(header(&response, "cache-control"), "no-cache");
        assert_eq!(header(&response, "x-accel-buffering"), "no");
        Self {
            response,
            buffer: String::new(),
            comments: 0,
        }
    }

    /// The next message, or `None` when the server ended the stream; fails after `within`.
    async fn next(&mut self, within: Duration) -> Option<Message> {
        tokio::time::timeout(within, self.read())
            .await
            .expect("an event or the end of the stream in time")
    }

    async fn read(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim_start().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim_start().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let (Some(id), Some(event)) = (id, event) {
                    let data = serde_json::from_str(&data).expect("data is JSON");
                    return Some(Message { id, event, data });
                }
                continue;
            }
            let chunk = self.response.chunk().await.expect("the stream reads")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8 stream"));
        }
    }

    /// Every message until the server ends the stream.
    async fn rest(&mut self) -> Vec<Message> {
        let mut all = Vec::new();
        while let Some(message) = self.next(Duration::from_secs(60)).await {
            all.push(message);
        }
        all
    }
}

async fn start(env: &TestEnv, path: &str, body: &Value) -> String {
    let out = json(post(env, path, Some(body), &[]).await, StatusCode::ACCEPTED).await;
    out["workflow_id"].as_str().unwrap().to_owned()
}

async fn history(env: &TestEnv, id: &str, query: &str) -> Value {
    json(
        get(
            env,
            &format!("/v1/workflows/{id}/events{query}"),
            &[("accept", "application/json")],
        )
        .await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn a_stream_cut_mid_workflow_resumes_with_every_event_once_in_order() {
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = Duration::from_millis(1500))
        .start()
        .await;
    let id = start(
        &env,
        "/v1/workflow-types/shopping/start",
        &shopping_start(&[("APPLE", 2), ("BANANA", 1), ("CHERRY", 3)]),
    )
    .await;
    let path = format!("/v1/workflows/{id}/events");

    // Read until the first activity is scheduled, then drop the connection mid-workflow.
    let mut stream = Stream::open(&env, &path, None).await;
    let mut seen = Vec::new();
    while let Some(message) = stream.next(Duration::from_secs(20)).await {
        let scheduled = message.event == "activity_scheduled";
        seen.push(message);
        if scheduled {
            break;
        }
    }
    drop(stream);
    assert_eq!(seen[0].event, "workflow_started", "{seen:?}");
    assert_eq!(
        seen[0].data["input"],
        json!({"items": [
        {"fruit": "APPLE", "amount": 2}, {"fruit": "BANANA", "amount": 1},
        {"fruit": "CHERRY", "amount": 3}]})
    );
    let last = seen.last().unwrap().id.clone();

    // Resume where it was cut: the rest, up to the end of the run.
    let mut resumed = Stream::open(&env, &path, Some(&last)).await;
    seen.extend(resumed.rest().await);

    // Every event once, in order, the same as the history itself.
    let ids: Vec<i64> = seen.iter().map(|m| m.id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let document = history(&env, &id, "").await;
    let expected: Vec<(String, String)> = document["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_id"].to_string(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let streamed: Vec<(String, String)> = seen
        .iter()
        .map(|m| (m.id.clone(), m.event.clone()))
        .collect();
    assert_eq!(streamed, expected, "the stream is the history");
    for message in &seen {
        assert_eq!(message.data["type"], message.event, "{message:?}");
        assert_eq!(message.data["event_id"].to_string(), message.id);
    }

    // What a user watches: three orders, progress of each, and the result.
    let of = |kind: &str| seen.iter().filter(|m| m.event == kind).collect::<Vec<_>>();
    let scheduled: Vec<&Value> = of("activity_scheduled")
        .iter()
        .map(|m| &m.data["activity_type"])
        .collect();
    assert_eq!(
        scheduled,
        [
            &json!("order_apples"),
            &json!("order_bananas"),
            &json!("order_cherries")
        ]
    );
    let completed = of("activity_completed");
    assert_eq!(completed.len(), 3, "{seen:?}");
    assert!(
        completed
            .iter()
            .any(|m| m.data["activity_type"] == "order_cherries"
                && m.data["result"] == "Ordered 3 Cherries..."),
        "{completed:?}"
    );
    let progress: Vec<Value> = of("progress")
        .iter()
        .map(|m| m.data["progress"].clone())
        .collect();
    assert_eq!(
        progress,
        [
            json!({"ordered": 1, "total": 3}),
            json!({"ordered": 2, "total": 3}),
            json!({"ordered": 3, "total": 3})
        ]
    );
    let end = seen.last().unwrap();
    assert_eq!(end.event, "workflow_completed");
    assert_eq!(
        end.data["result"],
        "Ordered 2 Apples...Ordered 1 Bananas...Ordered 3 Cherries..."
    );

    // Resuming after the last event of a closed run: nothing more comes, and EventSource stops.
    let after_end = get(
        &env,
        &path,
        &[("accept", "text/event-stream"), ("last-event-id", &end.id)],
    )
    .await;
    assert_eq!(after_end.status(), StatusCode::NO_CONTENT);

    let scraped = metrics::scrape(&env.http, &env.api_admin_url("/metrics")).await;
    let value = |name: &str| scraped.value(name, &[]).unwrap_or_default();
    // One reconnection (the 204 after the end is not a stream).
    assert_eq!(value("flowgate_event_stream_resumes_total"), 1.0);
    assert!(value("flowgate_event_stream_events_total") >= seen.len() as f64);
    assert_eq!(
        value("flowgate_event_streams_open"),
        0.0,
        "every stream closed"
    );
}

#[tokio::test]
async fn events_arrive_as_the_workflow_records_them() {
    let env = TestEnv::builder()
        .settings(|s| s.api.events.heartbeat = Duration::from_millis(300))
        .start()
        .await;
    let id = start(
        &env,
        "/v1/workflow-types/cart/start",
        &json!({"input": {"customer": "ACME Corp", "checkout_after": "1h"}}),
    )
    .await;
    let path = format!("/v1/workflows/{id}/events");
    let mut stream = Stream::open(&env, &path, None).await;
    let first = stream.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(first.event, "workflow_started");
    assert_eq!(first.data["workflow_type"], "CartWorkflow");
    // The cart sets its checkout timer, then waits.
    let timer = stream.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(timer.event, "timer_started", "{timer:?}");
    assert_eq!(timer.data["seconds"], 3600.0);

    // Nothing happens for a while: the stream stays open with heartbeats, no events.
    let idle = tokio::time::timeout(Duration::from_secs(1), stream.read()).await;
    assert!(idle.is_err(), "no event while the cart waits: {idle:?}");
    assert!(stream.comments >= 1, "heartbeat comments on an idle stream");

    // An update while the stream is open shows up on it.
    let added = post(
        &env,
        &format!("/v1/workflows/{id}/updates/add_item"),
        Some(&json!({"fruit": "APPLE", "amount": 2})),
        &[],
    )
    .await;
    assert_eq!(added.status(), StatusCode::OK);
    let accepted = loop {
        let message = stream.next(Duration::from_secs(10)).await.unwrap();
        if message.event == "update_accepted" {
            break message;
        }
    };
    assert_eq!(accepted.data["name"], "add_item");
    assert_eq!(
        accepted.data["input"],
        json!({"fruit": "APPLE", "amount": 2})
    );
    let done = stream.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(done.event, "update_completed", "{done:?}");
    assert_eq!(done.data["update_id"], accepted.data["update_id"]);
    assert_eq!(
        done.data["result"]["items"],
        json!([{"fruit": "APPLE", "amount": 2}])
    );

    // The checkout signal, the order and the end.
    post(
        &env,
        &format!("/v1/workflows/{id}/signals/checkout"),
        None,
        &[],
    )
    .await;
    let rest = stream.rest().await;
    let kinds: Vec<&str> = rest.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"signal_received"), "{kinds:?}");
    assert!(kinds.contains(&"progress"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"workflow_completed"), "{kinds:?}");
}

#[tokio::test]
async fn the_history_so_far_is_one_json_document() {
    let env = TestEnv::start().await;
    let id = start(
        &env,
        "/v1/workflow-types/shopping/start",
        &shopping_start(&[("ORANGE", 1)]),
    )
    .await;
    json(
        get(&env, &format!("/v1/workflows/{id}/result?wait=20"), &[]).await,
        StatusCode::OK,
    )
    .await;

    let all = history(&env, &id, "").await;
    assert_eq!(all["workflow_id"], id.as_str());
    assert!(all["run_id"].as_str().unwrap().len() == 36, "{all}");
    assert_eq!(all["next_after"], Value::Null);
    let events = all["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "workflow_started");
    assert_eq!(events.last().unwrap()["type"], "workflow_completed");
    assert_eq!(events.last().unwrap()["result"], "Ordered 1 Oranges...");
    // Internal events (workflow tasks, markers) and worker identities are left out.
    let text = all.to_string();
    for internal in ["workflow_task", "identity", "marker"] {
        assert!(!text.contains(internal), "{internal} in {text}");
    }

    // `?after=` gives what follows an event.
    let third = events[2]["event_id"].as_i64().unwrap();
    let after = history(&env, &id, &format!("?after={third}")).await;
    assert_eq!(after["events"].as_array().unwrap().as_slice(), &events[3..]);

    // Bad resume points and options are 422s naming them.
    for (query, name) in [("?after=x", "after"), ("?follow=maybe", "follow")] {
        let bad = problem(
            get(&env, &format!("/v1/workflows/{id}/events{query}"), &[]).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(bad["detail"].as_str().unwrap().contains(name), "{bad}");
    }
    let bad = problem(
        get(
            &env,
            &format!("/v1/workflows/{id}/events"),
            &[("last-event-id", "1; DROP")],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        bad["detail"].as_str().unwrap().contains("Last-Event-ID"),
        "{bad}"
    );
    // The memo field the workflow reports its progress in is not the client's to set.
    let mut body = shopping_start(&[("ORANGE", 1)]);
    body["memo"] = json!({"progress": "done"});
    let reserved = problem(
        post(&env, "/v1/workflow-types/shopping/start", Some(&body), &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        reserved["errors"][0]["pointer"], "/memo/progress",
        "{reserved}"
    );
    let missing = problem(
        get(&env, "/v1/workflows/no-such-workflow/events", &[]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(missing["code"], "workflow-not-found", "{missing}");
}

#[tokio::test]
async fn streams_are_bounded_per_client_and_in_age() {
    let env = TestEnv::builder()
        .settings(|s| {
            s.api.events.max_streams_per_client = 1;
            s.api.events.max_age = Duration::from_secs(2);
        })
        .start()
        .await;
    let id = start(
        &env,
        "/v1/workflow-types/cart/start",
        &json!({"input": {"customer": "ACME Corp", "checkout_after": "1h"}}),
    )
    .await;
    let path = format!("/v1/workflows/{id}/events");
    let mut first = Stream::open(&env, &path, None).await;
    let started = first.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(started.event, "workflow_started");

    // A second stream of the same client is refused while the first is open.
    let refused = problem(
        get(&env, &path, &[("accept", "text/event-stream")]).await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    assert_eq!(refused["code"], "too-many-streams", "{refused}");

    // The first ends by itself at its maximum age, though the cart still runs.
    let mut last = started;
    while let Some(message) = first.next(Duration::from_secs(10)).await {
        assert_ne!(message.event, "workflow_completed");
        last = message;
    }
    drop(first);
    // Its slot is free again, and the client resumes where it was.
    let mut resumed = eventually(Duration::from_secs(10), "a new stream to open", || async {
        let response = get(
            &env,
            &path,
            &[("accept", "text/event-stream"), ("last-event-id", &last.id)],
        )
        .await;
        (response.status() == StatusCode::OK).then_some(response)
    })
    .await;
    post(
        &env,
        &format!("/v1/workflows/{id}/signals/checkout"),
        None,
        &[],
    )
    .await;
    let body = tokio::time::timeout(Duration::from_secs(30), async {
        let mut text = String::new();
        while let Some(chunk) = resumed.chunk().await.unwrap() {
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            if text.contains("event: signal_received") {
                break;
            }
        }
        text
    })
    .await
    .expect("the resumed stream shows the signal");
    assert!(body.contains("event: signal_received"), "{body}");
    assert!(
        !body.contains("event: workflow_started"),
        "no event twice: {body}"
    );
}

#[tokio::test]
async fn a_resumed_stream_of_an_idle_workflow_answers_at_once() {
    let env = TestEnv::start().await;
    let id = start(
        &env,
        "/v1/workflow-types/cart/start",
        &json!({"input": {"customer": "ACME Corp", "checkout_after": "1h"}}),
    )
    .await;
    let path = format!("/v1/workflows/{id}/events");
    // Once the cart has set its checkout timer, it waits.
    let so_far =
        flowgate_testkit::eventually(Duration::from_secs(10), "the cart's timer", || async {
            let so_far = history(&env, &id, "").await;
            let events = so_far["events"].as_array().unwrap();
            events
                .iter()
                .any(|e| e["type"] == "timer_started")
                .then(|| so_far.clone())
        })
        .await;
    let last = so_far["events"].as_array().unwrap().last().unwrap()["event_id"].to_string();

    // The cart waits; a client resuming after its last event gets the stream's head at once
    // (a proxy would otherwise time the request out), and the next event when it comes.
    let mut resumed = tokio::time::timeout(
        Duration::from_secs(5),
        Stream::open(&env, &path, Some(&last)),
    )
    .await
    .expect("the resumed stream answers at once");
    post(
        &env,
        &format!("/v1/workflows/{id}/updates/add_item"),
        Some(&json!({"fruit": "CHERRY", "amount": 1})),
        &[],
    )
    .await;
    let next = resumed.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(next.event, "update_accepted", "{next:?}");
    assert!(next.id.parse::<i64>().unwrap() > last.parse::<i64>().unwrap());
}

#[tokio::test]
async fn a_following_stream_goes_on_through_continue_as_new() {
    let env = TestEnv::builder().without_worker().start().await;
    let client = env.temporal_client().await;
    let worker = temporal::ScriptedWorker::new(&client, "chain-tasks");
    temporal::start_raw(
        &client,
        "ChainWorkflow",
        "chain-tasks",
        "events-chain",
        &json!({"step": 1}),
    )
    .await;
    let path = "/v1/workflows/events-chain/events";
    let mut following = Stream::open(&env, &format!("{path}?follow=true"), None).await;
    let started = following
        .next(Duration::from_secs(20))
        .await
        .expect("the first run's start");
    assert_eq!(started.event, "workflow_started");
    let first = started.data["run_id"].as_str().unwrap().to_owned();
    assert_eq!(started.id, format!("{first}/1"), "ids name their run");

    // The run continues as new while the stream is open; the new run completes.
    let continued = worker
        .answer(vec![
            worker.continue_as_new("ChainWorkflow", &json!({"step": 2})),
        ])
        .await;
    assert_eq!(continued, first);
    let second = worker.answer(vec![worker.complete(&json!("done"))]).await;
    assert_ne!(second, first);

    let rest = following.rest().await;
    let seen: Vec<_> = rest
        .iter()
        .map(|m| (m.event.as_str(), m.data["run_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("workflow_continued_as_new", first.as_str()),
            ("workflow_started", second.as_str()),
            ("workflow_completed", second.as_str()),
        ],
        "{rest:#?}"
    );
    assert_eq!(rest[0].data["new_run_id"], second);
    assert_eq!(rest[1].data["input"], json!({"step": 2}));
    assert_eq!(rest[2].data["result"], "done");
    for message in &rest {
        let event_id = message.data["event_id"].as_i64().unwrap();
        let run = message.data["run_id"].as_str().unwrap();
        assert_eq!(message.id, format!("{run}/{event_id}"));
    }

    // Not following, the first run's stream ends with its continue-as-new.
    let mut plain = Stream::open(&env, &format!("{path}?run_id={first}"), None).await;
    let names: Vec<_> = plain.rest().await.into_iter().map(|m| m.event).collect();
    assert_eq!(names, ["workflow_started", "workflow_continued_as_new"]);

    // Resumed after the continue-as-new, a following stream goes on with the new run only.
    let mut resumed = Stream::open(&env, &format!("{path}?follow=true"), Some(&rest[0].id)).await;
    let resumed: Vec<_> = resumed.rest().await;
    assert_eq!(resumed, rest[1..], "no gap and no duplicate");

    // After the chain's last event there is nothing more.
    let done = get(
        &env,
        &format!("{path}?follow=true"),
        &[
            ("accept", "text/event-stream"),
            ("last-event-id", &rest[2].id),
        ],
    )
    .await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
}
