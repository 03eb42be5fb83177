//! The guide's routes: start a shopping workflow (waiting or not), its status, its result.

use std::time::Duration;

use flowgate_workflows::shopping::ShoppingList;
use tokio::time::Instant;

use crate::{
    Client, Error, Run, WorkflowRun, WorkflowStatus,
    client::{json_body, segment},
    options::millis,
};

/// The shortest pause between two result requests of [`Client::wait_for_result`], in case the
/// server answers "running" without holding the request (e.g. a zero `api.result_wait`).
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(200);

impl Client {
    /// `POST /workflows/shopping`: starts a shopping workflow and waits (up to the API's
    /// `api.result_wait`) for its order lines. A run still going after that comes back with
    /// status `running`; follow it with [`Client::wait_for_result`].
    pub async fn shopping_sync(&self, list: &ShoppingList) -> Result<WorkflowRun, Error> {
        let body = serde_json::to_vec(list).map_err(Error::Encode)?;
        let request = json_body(self.post("/workflows/shopping"), body);
        self.call(request, self.server_wait()).await
    }

    /// `POST /workflows/shopping/async`: starts a shopping workflow and returns at once with
    /// status `started`.
    pub async fn shopping_async(&self, list: &ShoppingList) -> Result<WorkflowRun, Error> {
        let body = serde_json::to_vec(list).map_err(Error::Encode)?;
        let request = json_body(self.post("/workflows/shopping/async"), body);
        self.call(request, Duration::ZERO).await
    }

    /// `GET /workflows/{workflow_id}/status`: Temporal's status and the start and close times.
    pub async fn status(&self, workflow_id: &str) -> Result<WorkflowStatus, Error> {
        let path = format!("/workflows/{}/status", segment(workflow_id));
        self.call(self.get(&path), Duration::ZERO).await
    }

    /// `GET /workflows/{workflow_id}/result`: the outcome once the workflow ended, else status
    /// `running`. The server holds the request up to `wait` (never longer than its
    /// `api.result_wait`, which is also the default); `Some(Duration::ZERO)` answers at once.
    pub async fn result(
        &self,
        workflow_id: &str,
        wait: Option<Duration>,
    ) -> Result<WorkflowRun, Error> {
        let path = format!("/workflows/{}/result", segment(workflow_id));
        let mut request = self.get(&path);
        if let Some(wait) = wait {
            request = request.query(&[("wait", millis(wait))]);
        }
        self.call(request, wait.unwrap_or(self.server_wait())).await
    }

    /// Waits until the workflow ends and returns its outcome, long-polling the guide's result
    /// route (each request held by the server) for at most `overall_timeout` in all. A workflow
    /// still running then is an [`Error::WaitTimedOut`].
    pub async fn wait_for_result(
        &self,
        workflow_id: &str,
        overall_timeout: Duration,
    ) -> Result<WorkflowRun, Error> {
        long_poll(
            workflow_id,
            overall_timeout,
            |wait| self.result(workflow_id, Some(wait)),
            |run| run.status.is_finished(),
        )
        .await
    }

    /// [`Client::wait_for_result`] over `/v1`: long-polls `GET /v1/workflows/{workflow_id}/result`
    /// until the workflow ends, for at most `overall_timeout`.
    pub async fn v1_wait_for_result(
        &self,
        workflow_id: &str,
        overall_timeout: Duration,
    ) -> Result<Run, Error> {
        long_poll(
            workflow_id,
            overall_timeout,
            |wait| self.v1_result(workflow_id, Some(wait)),
            |run| run.status.is_finished(),
        )
        .await
    }
}

/// Asks `fetch` with the time left until `finished` holds or `overall_timeout` has passed.
async fn long_poll<T, F, Fut>(
    workflow_id: &str,
    overall_timeout: Duration,
    mut fetch: F,
    finished: impl Fn(&T) -> bool,
) -> Result<T, Error>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let deadline = Instant::now() + overall_timeout;
    loop {
        let asked = Instant::now();
        let answer = fetch(deadline.saturating_duration_since(asked)).await?;
        if finished(&answer) {
            return Ok(answer);
        }
        if Instant::now() >= deadline {
            return Err(Error::WaitTimedOut {
                workflow_id: workflow_id.to_owned(),
                waited: overall_timeout,
            });
        }
        tokio::time::sleep_until((asked + MIN_POLL_INTERVAL).min(deadline)).await;
    }
}
