//! `/v1`: any registered workflow — start with options and bounded waits, describe, result,
//! signals, queries, updates, cancel, terminate, list.

use std::time::Duration;

use reqwest::{StatusCode, header::LOCATION};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    Arg, Client, DeliveryState, Error, MessageReply, Run, StartMessage, StartOptions, Started,
    Updated, Workflow, WorkflowPage, WorkflowSummary,
    client::{decode, json_body, segment},
    options::{StartBody, millis},
};

/// The header that makes a start (or an update) safe to retry.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl Client {
    /// `POST /v1/workflow-types/{name}/start`: starts the registered workflow `name` (e.g. `shopping`,
    /// `order-approval`) with `input` and `options`. With `options.wait` the answer comes when
    /// the workflow ends or the wait is over, whichever is first.
    pub async fn start<I: Serialize + ?Sized>(
        &self,
        name: &str,
        input: &I,
        options: &StartOptions,
    ) -> Result<Started, Error> {
        let body = serde_json::to_vec(&StartBody::new(input, options)).map_err(Error::Encode)?;
        let mut request = json_body(
            self.post(&format!("/v1/workflow-types/{}/start", segment(name))),
            body,
        );
        if let Some(wait) = options.wait {
            request = request.query(&[("wait", millis(wait))]);
        }
        if let Some(key) = &options.idempotency_key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        let response = self.send(request, options.wait.unwrap_or_default()).await?;
        let (status, headers, run) = decode::<Run>(response).await?;
        Ok(Started {
            run,
            accepted: status == StatusCode::ACCEPTED,
            location: headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }

    /// Signal-with-start: starts workflow `name` with `input` unless a run of it is running
    /// under `options.workflow_id`, and delivers signal `signal` with `arg` to the run either
    /// way, atomically. [`Started::replayed`] tells whether the run was already running.
    pub async fn signal_with_start<I: Serialize + ?Sized, A: Serialize + ?Sized>(
        &self,
        name: &str,
        input: &I,
        signal: &str,
        arg: Option<&A>,
        options: &StartOptions,
    ) -> Result<Started, Error> {
        let options = StartOptions {
            signal: Some(StartMessage::new(signal, arg)?),
            update: None,
            ..options.clone()
        };
        self.start(name, input, &options).await
    }

    /// Update-with-start: starts workflow `name` with `input` unless a run of it is running
    /// under `options.workflow_id`, runs update `update` with `arg` on the run, and returns the
    /// run with the update's result (waited for up to `options.wait`, else the API's
    /// `api.result_wait`).
    pub async fn update_with_start<
        T: DeserializeOwned,
        I: Serialize + ?Sized,
        A: Serialize + ?Sized,
    >(
        &self,
        name: &str,
        input: &I,
        update: &str,
        arg: Option<&A>,
        options: &StartOptions,
    ) -> Result<(Started, Updated<T>), Error> {
        let options = StartOptions {
            signal: None,
            update: Some(StartMessage::new(update, arg)?),
            wait: options.wait.or(Some(self.server_wait())),
            ..options.clone()
        };
        let started = self.start(name, input, &options).await?;
        let ran = started.run.update.clone().ok_or_else(|| Error::Decode {
            status: 200,
            source: <serde_json::Error as serde::de::Error>::custom("the answer has no update"),
        })?;
        let updated = Updated {
            workflow_id: started.run.workflow_id.clone(),
            run_id: started.run.run_id.clone().unwrap_or_default(),
            update_id: Some(ran.update_id),
            result: typed(Some(ran.result))?,
        };
        Ok((started, updated))
    }

    /// `GET /v1/workflows/{workflow_id}`: status, times, type, task queue, history length, memo.
    pub async fn describe(&self, workflow_id: &str) -> Result<Workflow, Error> {
        let path = format!("/v1/workflows/{}", segment(workflow_id));
        self.call(self.get(&path), Duration::ZERO).await
    }

    /// `GET /v1/workflows/{workflow_id}/callbacks`: where the completion webhooks of the
    /// workflow's latest run stand (a 404 `callbacks-not-found` when its start named none).
    pub async fn callbacks(&self, workflow_id: &str) -> Result<DeliveryState, Error> {
        let path = format!("/v1/workflows/{}/callbacks", segment(workflow_id));
        self.call(self.get(&path), Duration::ZERO).await
    }

    /// `GET /v1/workflows/{workflow_id}/result`: at once (`wait: None`, a peek), or after
    /// waiting up to `wait` (capped by the API's `api.result_wait`) for the workflow to end.
    pub async fn v1_result(&self, workflow_id: &str, wait: Option<Duration>) -> Result<Run, Error> {
        let path = format!("/v1/workflows/{}/result", segment(workflow_id));
        let mut request = self.get(&path);
        if let Some(wait) = wait {
            request = request.query(&[("wait", millis(wait))]);
        }
        self.call(request, wait.unwrap_or_default()).await
    }

    /// `POST /v1/workflows/{workflow_id}/signals/{name}` with `arg` as the body.
    pub async fn signal(
        &self,
        workflow_id: &str,
        name: &str,
        arg: Arg,
    ) -> Result<MessageReply, Error> {
        let path = format!(
            "/v1/workflows/{}/signals/{}",
            segment(workflow_id),
            segment(name)
        );
        self.message(&path, arg, None).await
    }

    /// `POST /v1/workflows/{workflow_id}/queries/{name}`: the query's answer as `T`.
    pub async fn query<T: DeserializeOwned>(
        &self,
        workflow_id: &str,
        name: &str,
        arg: Arg,
    ) -> Result<T, Error> {
        let path = format!(
            "/v1/workflows/{}/queries/{}",
            segment(workflow_id),
            segment(name)
        );
        let reply = self.message(&path, arg, None).await?;
        typed(reply.result)
    }

    /// `POST /v1/workflows/{workflow_id}/updates/{name}`: runs the update and waits (up to the
    /// API's `api.result_wait`) for its result. With an `idempotency_key` a retry returns the
    /// first attempt's result and the update is applied once.
    pub async fn update<T: DeserializeOwned>(
        &self,
        workflow_id: &str,
        name: &str,
        arg: Arg,
        idempotency_key: Option<&str>,
    ) -> Result<Updated<T>, Error> {
        let path = format!(
            "/v1/workflows/{}/updates/{}",
            segment(workflow_id),
            segment(name)
        );
        let reply = self.message(&path, arg, idempotency_key).await?;
        Ok(Updated {
            workflow_id: reply.workflow_id,
            run_id: reply.run_id,
            update_id: reply.update_id,
            result: typed(reply.result)?,
        })
    }

    /// `POST /v1/workflows/{workflow_id}/cancel`: requests cancellation (the workflow decides
    /// how to end); `reason` is recorded in its history.
    pub async fn cancel(
        &self,
        workflow_id: &str,
        reason: Option<&str>,
    ) -> Result<MessageReply, Error> {
        let path = format!("/v1/workflows/{}/cancel", segment(workflow_id));
        self.message(&path, reason_arg(reason), None).await
    }

    /// `POST /v1/workflows/{workflow_id}/terminate`: ends the workflow at once.
    pub async fn terminate(
        &self,
        workflow_id: &str,
        reason: Option<&str>,
    ) -> Result<MessageReply, Error> {
        let path = format!("/v1/workflows/{}/terminate", segment(workflow_id));
        self.message(&path, reason_arg(reason), None).await
    }

    /// `GET /v1/workflows`: one page of the workflows matching a Temporal visibility `query`
    /// (`None`: all), `page_size` 1 to 1000 (default 100), from `page_token` (a previous page's
    /// `next_page_token`). Visibility is eventually consistent.
    pub async fn list(
        &self,
        query: Option<&str>,
        page_size: Option<u32>,
        page_token: Option<&str>,
    ) -> Result<WorkflowPage, Error> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(query) = query {
            params.push(("query", query.to_owned()));
        }
        if let Some(page_size) = page_size {
            params.push(("page_size", page_size.to_string()));
        }
        if let Some(page_token) = page_token {
            params.push(("page_token", page_token.to_owned()));
        }
        self.call(self.get("/v1/workflows").query(&params), Duration::ZERO)
            .await
    }

    /// The pages of workflows matching `query`, fetched one at a time as
    /// [`WorkflowPages::next_page`] is called.
    pub fn list_pages(&self, query: Option<&str>, page_size: Option<u32>) -> WorkflowPages {
        WorkflowPages {
            client: self.clone(),
            query: query.map(str::to_owned),
            page_size,
            next: Some(None),
        }
    }

    /// Every workflow matching `query`, following `next_page_token` to the last page (for
    /// large result sets use [`Client::list_pages`]).
    pub async fn list_all(
        &self,
        query: Option<&str>,
        page_size: Option<u32>,
    ) -> Result<Vec<WorkflowSummary>, Error> {
        let mut pages = self.list_pages(query, page_size);
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await? {
            all.extend(page.workflows);
        }
        Ok(all)
    }

    async fn message(
        &self,
        path: &str,
        arg: Arg,
        idempotency_key: Option<&str>,
    ) -> Result<MessageReply, Error> {
        let mut request = self.post(path);
        if let Some(body) = arg.into_body()? {
            request = json_body(request, body);
        }
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        // An update may be held up to the API's `api.result_wait`.
        self.call(request, self.server_wait()).await
    }
}

/// `{"reason": …}`, or no body without a reason.
fn reason_arg(reason: Option<&str>) -> Arg {
    match reason {
        Some(reason) => Arg::json(&serde_json::json!({ "reason": reason })),
        None => Arg::none(),
    }
}

/// A reply's `result` as `T` (an absent result is JSON `null`).
fn typed<T: DeserializeOwned>(result: Option<serde_json::Value>) -> Result<T, Error> {
    serde_json::from_value(result.unwrap_or_default()).map_err(|source| Error::Decode {
        status: 200,
        source,
    })
}

/// The pages of a list, from [`Client::list_pages`].
#[derive(Debug)]
pub struct WorkflowPages {
    client: Client,
    query: Option<String>,
    page_size: Option<u32>,
    /// The token of the next page (`Some(None)`: the first); `None` once the last was fetched.
    next: Option<Option<String>>,
}

impl WorkflowPages {
    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<WorkflowPage>, Error> {
        let Some(token) = &self.next else {
            return Ok(None);
        };
        let page = self
            .client
            .list(self.query.as_deref(), self.page_size, token.as_deref())
            .await?;
        self.next = page
            .next_page_token
            .clone()
            .filter(|t| !t.is_empty())
            .map(Some);
        Ok(Some(page))
    }
}
