//! `GET /v1/workflows/{workflow_id}/events`: a workflow's events as a [`Stream`] that resumes by
//! itself, and the history so far as one document.
//!
//! The API ends a stream after `api.events.max_age` and when a replica shuts down; a connection
//! may also drop. Either way the stream reconnects with `Last-Event-ID` set to the last event it
//! yielded, so the caller sees every event once, in order, until the run's last event.

use std::{
    collections::VecDeque,
    fmt,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::Stream;
use reqwest::{
    Response, StatusCode,
    header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER},
};

use crate::{
    Client, Error, EventKind, EventsOptions, History, WorkflowEvent,
    client::{error_of, segment},
    sse::{Message, Parser},
};

/// Failed reconnects in a row (no answer, a 429 or 5xx, or a connection lost before it carried
/// an event) after which the stream gives up with the last error.
const MAX_FAILED_RECONNECTS: u32 = 5;

/// The pause before a reconnect that follows a failure or an empty stream, until the server
/// sends its own (`retry:`); it doubles with each failure in a row.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// The longest pause between two reconnects.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Client {
    /// `GET /v1/workflows/{workflow_id}/events`: the run's events as they are recorded, until
    /// its last event (`workflow_completed`, `_failed`, `_canceled`, `_terminated`,
    /// `_timed_out`, or `workflow_continued_as_new` unless `options.follow`).
    ///
    /// When the server ends the stream early (its `api.events.max_age`, a shutdown) or the
    /// connection drops, the stream reconnects with `Last-Event-ID` and goes on without
    /// repeating or skipping an event; a resume that the server answers with 204 (nothing
    /// after the run's last event) ends it. Errors of the first request come as the stream's
    /// only item (e.g. [`Error::Problem`] `workflow-not-found`, `too-many-streams`); after
    /// that, reconnects are retried with a growing pause, and the stream ends with the last
    /// error after 5 failed in a row. A connection silent (not even a heartbeat) for
    /// [`ClientBuilder::timeout`](crate::ClientBuilder::timeout) is taken for lost, so that
    /// timeout should exceed the API's `api.events.heartbeat`; a resume may be held up to
    /// [`ClientBuilder::events_max_age`](crate::ClientBuilder::events_max_age) before the
    /// server answers.
    ///
    /// Events of a type this client does not know come as [`EventKind::Other`].
    pub fn events(&self, workflow_id: &str, options: &EventsOptions) -> EventStream {
        let watch = Watch {
            client: self.clone(),
            path: format!("/v1/workflows/{}/events", segment(workflow_id)),
            options: options.clone(),
            response: None,
            parser: Parser::default(),
            messages: VecDeque::new(),
            resume: None,
            last: None,
            delivered: false,
            failures: 0,
            last_error: None,
            retry: None,
            retry_after: None,
            connections: 0,
            done: false,
        };
        let stream = futures::stream::unfold(watch, |mut watch| async move {
            let item = watch.next().await?;
            Some((item, watch))
        });
        EventStream {
            inner: Box::pin(stream),
        }
    }

    /// `GET /v1/workflows/{workflow_id}/events` with `Accept: application/json`: the latest
    /// run's events recorded so far after event `after` (all by default), at most 1000; pass
    /// [`History::next_after`] as `after` for the next ones.
    pub async fn history(&self, workflow_id: &str, after: Option<i64>) -> Result<History, Error> {
        let path = format!("/v1/workflows/{}/events", segment(workflow_id));
        let mut request = self.get(&path).header(ACCEPT, "application/json");
        if let Some(after) = after {
            request = request.query(&[("after", after)]);
        }
        self.call(request, Duration::ZERO).await
    }
}

/// The events of a workflow, from [`Client::events`]: a [`Stream`] of
/// `Result<WorkflowEvent, Error>` (read it with `futures::StreamExt::next`).
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<WorkflowEvent, Error>> + Send>>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl Stream for EventStream {
    type Item = Result<WorkflowEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// One stream's state across its connections.
struct Watch {
    client: Client,
    path: String,
    options: EventsOptions,
    /// The open connection, if any.
    response: Option<Response>,
    parser: Parser,
    /// Messages read but not yet yielded.
    messages: VecDeque<Message>,
    /// The `id:` of the last event yielded: the `Last-Event-ID` of a reconnect.
    resume: Option<String>,
    /// The run and event id of the last event yielded, so none is yielded twice.
    last: Option<(String, i64)>,
    /// Whether the current connection carried an event.
    delivered: bool,
    /// Failed reconnects in a row.
    failures: u32,
    last_error: Option<Error>,
    /// The reconnection time the server asked for (`retry:`).
    retry: Option<Duration>,
    /// The `Retry-After` of the last refused reconnect: the least pause before the next.
    retry_after: Option<Duration>,
    connections: u32,
    done: bool,
}

impl Watch {
    async fn next(&mut self) -> Option<Result<WorkflowEvent, Error>> {
        while !self.done {
            if let Some(message) = self.messages.pop_front() {
                if let Some(item) = self.accept(message) {
                    return Some(item);
                }
                continue;
            }
            let Some(response) = self.response.as_mut() else {
                match self.connect().await {
                    Ok(Some(response)) => self.response = Some(response),
                    Ok(None) => self.done = true,
                    Err(error) => {
                        self.done = true;
                        return Some(Err(error));
                    }
                }
                continue;
            };
            let idle = self.client.timeout();
            match tokio::time::timeout(idle, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    let mut messages = Vec::new();
                    self.parser.feed(&chunk, &mut messages);
                    self.messages.extend(messages);
                    self.retry = self.parser.retry().or(self.retry);
                }
                // The server ended the stream before the run's last event: resume.
                Ok(Ok(None)) => self.response = None,
                Ok(Err(error)) => self.lost(Error::Http(error)),
                Err(_) => self.lost(Error::StreamStalled(idle)),
            }
        }
        None
    }

    /// The event a message carries, unless it was yielded before.
    fn accept(&mut self, message: Message) -> Option<Result<WorkflowEvent, Error>> {
        let event: WorkflowEvent = match serde_json::from_str(&message.data) {
            Ok(event) => event,
            Err(source) => {
                return Some(Err(Error::Decode {
                    status: 200,
                    source,
                }));
            }
        };
        if let Some((run_id, event_id)) = &self.last
            && *run_id == event.run_id
            && event.event_id <= *event_id
        {
            return None;
        }
        self.resume = Some(message.id.unwrap_or_else(|| match self.options.follow {
            true => format!("{}/{}", event.run_id, event.event_id),
            false => event.event_id.to_string(),
        }));
        self.last = Some((event.run_id.clone(), event.event_id));
        self.delivered = true;
        self.failures = 0;
        self.last_error = None;
        let continues =
            self.options.follow && matches!(event.kind, EventKind::WorkflowContinuedAsNew { .. });
        if event.closes_run() && !continues {
            self.done = true;
            self.response = None;
        }
        Some(Ok(event))
    }

    /// The connection broke (or went silent); one without an event counts as a failure.
    fn lost(&mut self, error: Error) {
        self.response = None;
        if !self.delivered {
            self.failures += 1;
            self.last_error = Some(error);
        }
    }

    /// A new connection, after the pause the previous one calls for; `None` on a 204.
    async fn connect(&mut self) -> Result<Option<Response>, Error> {
        loop {
            if self.failures >= MAX_FAILED_RECONNECTS {
                return Err(self
                    .last_error
                    .take()
                    .unwrap_or(Error::StreamStalled(self.client.timeout())));
            }
            if self.connections > 0 {
                let pause = self.pause();
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            let first = self.connections == 0;
            self.connections += 1;
            self.delivered = false;
            self.parser = Parser::default();
            let response = match self.send().await {
                Ok(response) => response,
                Err(error) if first => return Err(error),
                Err(error) => {
                    self.failures += 1;
                    self.last_error = Some(error);
                    continue;
                }
            };
            let status = response.status();
            if status == StatusCode::NO_CONTENT {
                return Ok(None);
            }
            let is_stream = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"));
            if status.is_success() && is_stream {
                return Ok(Some(response));
            }
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs);
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap_or_default();
            let error = error_of(status, &headers, &body);
            let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if first || !transient {
                return Err(error);
            }
            self.failures += 1;
            self.last_error = Some(error);
            self.retry_after = retry_after;
        }
    }

    /// No pause after a connection that carried events; otherwise the server's `retry:`,
    /// doubled for each failure in a row, and at least a refusal's `Retry-After`.
    fn pause(&mut self) -> Duration {
        let retry_after = self.retry_after.take().unwrap_or_default();
        if self.delivered {
            return retry_after.min(MAX_BACKOFF);
        }
        let base = self.retry.unwrap_or(DEFAULT_RETRY);
        let doubling = 2u32.saturating_pow(self.failures.saturating_sub(1).min(16));
        base.saturating_mul(doubling)
            .max(retry_after)
            .min(MAX_BACKOFF)
    }

    /// The request: from where the last event left off, pinned to its run.
    async fn send(&self) -> Result<Response, Error> {
        let mut request = self
            .client
            .get(&self.path)
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache");
        let mut query: Vec<(&str, String)> = Vec::new();
        if self.options.follow {
            query.push(("follow", "true".to_owned()));
        }
        match (&self.resume, &self.last) {
            (Some(resume), Some((run_id, _))) => {
                request = request.header("last-event-id", resume);
                // A plain event id names no run: a resume stays on the run it was reading
                // (a following stream's ids carry their run).
                if !self.options.follow {
                    query.push(("run_id", run_id.clone()));
                }
            }
            _ => {
                if let Some(run_id) = &self.options.run_id {
                    query.push(("run_id", run_id.clone()));
                }
                if let Some(after) = self.options.after {
                    query.push(("after", after.to_string()));
                }
            }
        }
        // A resume is held by the server until the next event, up to its max age.
        let wait = self
            .client
            .events_max_age()
            .saturating_add(self.client.timeout());
        let sent = tokio::time::timeout(wait, request.query(&query).send()).await;
        match sent {
            Ok(response) => Ok(response?),
            Err(_) => Err(Error::StreamStalled(wait)),
        }
    }
}

#[cfg(test)]
mod tests;
