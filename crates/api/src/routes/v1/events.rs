//! `GET /v1/workflows/{workflow_id}/events`: a workflow's history as typed events, live over
//! Server-Sent Events (`text/event-stream`, the default), or the history so far as one JSON
//! document (`Accept: application/json`).
//!
//! A stream reads the run's history with Temporal's long-poll (an event is sent as soon as the
//! run records it) and ends after the run's last event, or — the client then resumes with
//! `Last-Event-ID` — when it reaches `api.events.max_age` or shutdown begins. Resuming after the
//! last event of a closed run is a 204, which tells a browser's `EventSource` to stop.

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use serde::{Deserialize, Serialize};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use tokio::time::Instant;
use utoipa::ToSchema;

use crate::{
    access::ClientKey,
    auth::Principal,
    error::{ApiError, Problem},
    extract::{RunIdQuery, WorkflowIdPath},
    gateway::{EventKind, EventOut, EventTyper},
    state::AppState,
    streams::StreamSlot,
};

/// Events one JSON document holds at most; `next_after` continues.
const MAX_DOCUMENT_EVENTS: usize = 1000;

/// How long a browser's `EventSource` waits before it reconnects (the SSE `retry:` field).
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// `?after=` and `?follow=`.
#[derive(Debug, Deserialize)]
pub(crate) struct EventsParams {
    after: Option<String>,
    follow: Option<String>,
}

/// The history so far, as one document.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryOut {
    /// The workflow id.
    pub workflow_id: String,
    /// The run.
    pub run_id: String,
    /// Its events after `?after=` (all by default), at most 1000, in order.
    pub events: Vec<EventOut>,
    /// When more events follow: pass it as `?after=` for the next ones.
    pub next_after: Option<i64>,
}

/// Where a stream starts: the run, and the event after which to send.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResumePoint {
    run_id: Option<String>,
    after: i64,
}

/// A resume point as sent back: `<event id>`, or `<run id>/<event id>` on a stream that follows
/// continue-as-new.
fn parse_resume(raw: &str, what: &'static str) -> Result<ResumePoint, ApiError> {
    let invalid = || ApiError::InvalidQuery {
        name: what,
        problem: format!(
            "{raw:?} is not an event id (a number, or <run id>/<number> as a following stream sends)"
        ),
    };
    let (run_id, after) = match raw.trim().split_once('/') {
        Some((run, after)) => {
            uuid::Uuid::try_parse(run).map_err(|_| invalid())?;
            (Some(run.to_owned()), after)
        }
        None => (None, raw.trim()),
    };
    let after = after
        .parse::<i64>()
        .ok()
        .filter(|a| *a >= 0)
        .ok_or_else(invalid)?;
    Ok(ResumePoint { run_id, after })
}

fn parse_follow(raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1" | "") => Ok(true),
        Some(other) => Err(ApiError::InvalidQuery {
            name: "follow",
            problem: format!("{other:?} is not true or false"),
        }),
    }
}

/// Whether the client asked for the JSON document rather than a stream.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    accept.contains("application/json") && !accept.contains("text/event-stream")
}

/// Watch a workflow's history: live events over Server-Sent Events, or the history so far as
/// JSON.
#[utoipa::path(get, path = "/v1/workflows/{workflow_id}/events", tag = "v1",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("run_id" = Option<String>, Query, description = "One run of the workflow; default: its latest run"),
        ("after" = Option<String>, Query, description = "Send only events after this event id (a stream's `id:`); `Last-Event-ID` takes precedence"),
        ("follow" = Option<bool>, Query, description = "Stream: when the run continues as new, go on with the new run (ids are then `<run id>/<event id>`)"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume a stream after this event (sent by `EventSource` when it reconnects)"),
    ),
    responses(
        (status = 200, description = "`text/event-stream` (default): one SSE message per event — `id:` the event id, `event:` its type, `data:` an `EventOut` — sent as the run records them, with comment lines as heartbeats; the stream ends after the run's last event, or after api.events.max_age / when the replica shuts down (resume with `Last-Event-ID`). `progress` events carry the workflow's own progress report, declared per workflow type (the shopping workflows: `OrderProgress`). With `Accept: application/json`: the history so far.",
            content(
                (EventOut = "text/event-stream"),
                (HistoryOut = "application/json"),
            ),
            headers(("X-Accel-Buffering" = String, description = "`no`: proxies pass events on at once"))),
        (status = 204, description = "Resumed after the last event of a run that has ended: nothing more will come (an `EventSource` stops reconnecting)"),
        (status = 400, description = "Invalid workflow id in the path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow (or run)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid run_id, after, follow or Last-Event-ID", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "As many streams open as api.events.max_streams / max_streams_per_client allow", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn workflow_events(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
    RunIdQuery(run_id): RunIdQuery,
    params: Result<axum::extract::Query<EventsParams>, axum::extract::rejection::QueryRejection>,
    principal: Option<Extension<Principal>>,
    client: Option<Extension<ClientKey>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let axum::extract::Query(params) = params.map_err(|e| ApiError::InvalidQuery {
        name: "after",
        problem: e.body_text(),
    })?;
    let follow = parse_follow(params.follow.as_deref())?;
    let json = wants_json(&headers);
    let last_event_id = headers
        .get("last-event-id")
        .filter(|_| !json)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let resume = match (&last_event_id, &params.after) {
        (Some(raw), _) => Some(parse_resume(raw, "Last-Event-ID")?),
        (None, Some(raw)) => Some(parse_resume(raw, "after")?),
        (None, None) => None,
    };
    let principal = principal.map(|Extension(p)| p);
    // A client reconnecting (as `EventSource` does) sends the last id it got.
    let reconnected = last_event_id.is_some();
    let ResumePoint {
        run_id: resume_run,
        after,
    } = resume.unwrap_or(ResumePoint {
        run_id: None,
        after: 0,
    });
    let run_id = match resume_run.or(run_id) {
        Some(run_id) => run_id,
        None => {
            Box::pin(state.gateway.describe_run(&workflow_id, None))
                .await?
                .run_id
        }
    };
    let mut watch = Watch {
        state: state.clone(),
        principal,
        workflow_id,
        run_id,
        after,
        follow,
        typer: EventTyper::default(),
        buffer: VecDeque::new(),
        token: Vec::new(),
        read_any: false,
        next_run: None,
        deadline: Instant::now() + state.settings.api.events.max_age,
        slot: None,
        sent_any: false,
    };
    if json {
        return Box::pin(watch.document())
            .await
            .map(IntoResponse::into_response);
    }
    let client = client.map_or_else(String::new, |Extension(ClientKey(c))| c);
    watch.slot = Some(state.streams.open(&client)?);
    // What is recorded is read before the answer (without waiting), so a missing run or a
    // forbidden type is an error status, and a resume after a closed run's last event is a 204.
    if Box::pin(watch.nothing_more()).await? {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if reconnected {
        state.metrics.stream_resumed();
    }
    let stream = futures::stream::unfold(watch, |mut watch| async move {
        match watch.next().await {
            Ok(Next::Event(event)) => Some((Ok::<_, Infallible>(event), watch)),
            Ok(Next::End) => None,
            Err(error) => {
                tracing::info!(workflow_id = %watch.workflow_id, %error, "event stream ends early; the client resumes");
                None
            }
        }
    });
    let heartbeat = state.settings.api.events.heartbeat;
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// What a watch has next.
enum Next {
    /// An event to send.
    Event(Event),
    /// Nothing more on this stream: the run ended (its last event was sent), or the stream
    /// reached `api.events.max_age`, or shutdown began (the client resumes elsewhere).
    End,
}

/// One stream's reading of a workflow's history.
struct Watch {
    state: AppState,
    principal: Option<Principal>,
    workflow_id: String,
    run_id: String,
    /// Events up to this id (of the current run) were sent before.
    after: i64,
    follow: bool,
    typer: EventTyper,
    buffer: VecDeque<HistoryEvent>,
    token: Vec<u8>,
    /// Whether a page of the current run was read (an empty token then means its end).
    read_any: bool,
    /// The run this one continued as, once its last event was read.
    next_run: Option<String>,
    deadline: Instant,
    slot: Option<StreamSlot>,
    /// Whether an event was sent (the first carries the reconnection delay).
    sent_any: bool,
}

impl Watch {
    /// The next event to send, reading (and waiting for) more history as needed.
    async fn next(&mut self) -> Result<Next, ApiError> {
        loop {
            if let Some(out) = self.next_buffered()? {
                return Ok(Next::Event(self.sse(&out)));
            }
            if self.read_any && self.token.is_empty() {
                match self.next_run.take().filter(|_| self.follow) {
                    Some(run_id) => self.switch_to(run_id),
                    None => return Ok(Next::End),
                }
            }
            // Draining or past its age, a stream ends once it sent what it had read. The first
            // page is always read: a long-poll without a token answers at once.
            if self.read_any && (self.state.is_draining() || Instant::now() >= self.deadline) {
                return Ok(Next::End);
            }
            let page = {
                let read = self.state.gateway.history_page(
                    &self.workflow_id,
                    &self.run_id,
                    std::mem::take(&mut self.token),
                    true,
                );
                tokio::select! {
                    biased;
                    page = read => page?,
                    () = self.state.draining(), if self.read_any => return Ok(Next::End),
                    () = tokio::time::sleep_until(self.deadline), if self.read_any => return Ok(Next::End),
                }
            };
            self.read_any = true;
            self.token = page.next_page_token;
            self.buffer.extend(page.events);
        }
    }

    /// The first buffered event after `after`, as a client reads it; `None` once the buffer is
    /// empty. A run's start is checked against what the principal may read, and its
    /// continue-as-new noted.
    fn next_buffered(&mut self) -> Result<Option<EventOut>, ApiError> {
        while let Some(event) = self.buffer.pop_front() {
            let event_id = event.event_id;
            let Some(out) = self.typer.type_event(&self.run_id, event) else {
                continue;
            };
            match &out.kind {
                EventKind::WorkflowStarted { workflow_type, .. } => {
                    self.check_type(workflow_type)?;
                }
                EventKind::WorkflowContinuedAsNew { new_run_id } => {
                    self.next_run = Some(new_run_id.clone());
                }
                _ => {}
            }
            if event_id > self.after {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    /// Goes on with the run this one continued as.
    fn switch_to(&mut self, run_id: String) {
        self.run_id = run_id;
        self.after = 0;
        self.typer = EventTyper::default();
        self.read_any = false;
        self.token.clear();
    }

    /// 403 unless the principal may read workflows of `workflow_type` (the route's check covers
    /// the run it named; a resumed or followed run is checked here).
    fn check_type(&self, workflow_type: &str) -> Result<(), ApiError> {
        match &self.principal {
            Some(principal) if !principal.may_read_type(workflow_type) => Err(principal.forbidden(
                flowgate_config::Action::Read,
                &format!("workflow {:?}", self.workflow_id),
            )),
            _ => Ok(()),
        }
    }

    fn sse(&mut self, out: &EventOut) -> Event {
        self.state.metrics.stream_event();
        let id = if self.follow {
            format!("{}/{}", out.run_id, out.event_id)
        } else {
            out.event_id.to_string()
        };
        let data = serde_json::to_string(out).unwrap_or_else(|_| "{}".to_owned());
        let event = Event::default().id(id).event(out.kind.name()).data(data);
        if std::mem::replace(&mut self.sent_any, true) {
            event
        } else {
            event.retry(RECONNECT_AFTER)
        }
    }

    /// Whether nothing will ever come after `after`: the run has ended and its last event is at
    /// or before it (and, following, it did not continue as new). Reads what is recorded
    /// without waiting, checking the run's type on the way; the stream reads again.
    async fn nothing_more(&self) -> Result<bool, ApiError> {
        let mut typer = EventTyper::default();
        let mut token = Vec::new();
        let mut ended = false;
        loop {
            let page = self
                .state
                .gateway
                .history_page(&self.workflow_id, &self.run_id, token, false)
                .await?;
            for event in page.events {
                let event_id = event.event_id;
                let Some(out) = typer.type_event(&self.run_id, event) else {
                    continue;
                };
                if let EventKind::WorkflowStarted { workflow_type, .. } = &out.kind {
                    self.check_type(workflow_type)?;
                }
                if event_id > self.after {
                    return Ok(false);
                }
                ended = match out.kind {
                    EventKind::WorkflowContinuedAsNew { .. } => !self.follow,
                    EventKind::WorkflowCompleted { .. }
                    | EventKind::WorkflowFailed { .. }
                    | EventKind::WorkflowCanceled {}
                    | EventKind::WorkflowTerminated { .. }
                    | EventKind::WorkflowTimedOut {} => true,
                    _ => ended,
                };
            }
            if page.next_page_token.is_empty() {
                return Ok(ended);
            }
            token = page.next_page_token;
        }
    }

    /// The run's events after `after`, up to [`MAX_DOCUMENT_EVENTS`], without waiting.
    async fn document(mut self) -> Result<Json<HistoryOut>, ApiError> {
        let mut events = Vec::new();
        let mut more = false;
        loop {
            while let Some(out) = self.next_buffered()? {
                if events.len() == MAX_DOCUMENT_EVENTS {
                    more = true;
                    break;
                }
                events.push(out);
            }
            if more || (self.read_any && self.token.is_empty()) {
                break;
            }
            let page = self
                .state
                .gateway
                .history_page(
                    &self.workflow_id,
                    &self.run_id,
                    std::mem::take(&mut self.token),
                    false,
                )
                .await?;
            self.read_any = true;
            self.token = page.next_page_token;
            self.buffer.extend(page.events);
        }
        let next_after = more
            .then(|| events.last().map(|e: &EventOut| e.event_id))
            .flatten();
        Ok(Json(HistoryOut {
            workflow_id: self.workflow_id,
            run_id: self.run_id,
            events,
            next_after,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_points_are_event_ids_or_run_and_event_id() {
        assert_eq!(
            parse_resume("12", "after").unwrap(),
            ResumePoint {
                run_id: None,
                after: 12
            }
        );
        let run = "0196a3a4-1111-7000-8000-000000000000";
        assert_eq!(
            parse_resume(&format!("{run}/3"), "after").unwrap(),
            ResumePoint {
                run_id: Some(run.to_owned()),
                after: 3
            }
        );
        for bad in ["", "-1", "x", "1/2", "../3", "9999999999999999999999"] {
            assert!(parse_resume(bad, "after").is_err(), "{bad}");
        }
    }
}
