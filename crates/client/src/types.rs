//! Answers of the API, mirroring the schemas of `docs/openapi.json`. Times are RFC 3339 strings
//! in UTC, as the API sends them.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::Error;

/// Where a run stands, in the API's lower-case words (`RunStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started without waiting (the guide's async start).
    Started,
    /// Still running.
    Running,
    /// Completed: the result is in `result`.
    Completed,
    /// Failed: why is in `error`.
    Failed,
    /// Canceled.
    Canceled,
    /// Terminated.
    Terminated,
    /// Timed out.
    TimedOut,
    /// Continued as a new run (describe and list only).
    ContinuedAsNew,
    /// Paused (describe and list only).
    Paused,
}

impl RunStatus {
    /// Whether the run has ended (every status but `started`, `running` and `paused`).
    pub fn is_finished(self) -> bool {
        !matches!(
            self,
            RunStatus::Started | RunStatus::Running | RunStatus::Paused
        )
    }
}

/// Why a workflow did not complete (`ErrorInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// Failure type: the application error type (e.g. `InvalidShoppingList`) or Temporal's
    /// failure kind (`ActivityFailure`, `TimeoutFailure`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable message, outermost failure first.
    pub message: String,
}

/// The guide's answer for starts and results (`RunOut` without the `/v1` fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRun {
    /// Workflow id.
    pub workflow_id: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// The shopping workflow's order lines once completed, otherwise `None`.
    #[serde(default)]
    pub result: Option<String>,
    /// Why the workflow did not complete (failed, canceled, terminated, timed out only).
    #[serde(default)]
    pub error: Option<ErrorInfo>,
}

/// `GET /workflows/{workflow_id}/status` (`WorkflowStatusOut`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowStatus {
    /// Workflow id.
    pub workflow_id: String,
    /// Temporal's execution status: `RUNNING`, `COMPLETED`, `FAILED`, `CANCELED`,
    /// `TERMINATED`, `CONTINUED_AS_NEW`, `TIMED_OUT`.
    pub status: String,
    /// Start time.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Close time; `None` while running.
    #[serde(default)]
    pub close_time: Option<String>,
}

/// A run as `/v1` reports it (`RunOut`): starts and results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Workflow id.
    pub workflow_id: String,
    /// Run id: the run started, or the run whose result this is.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Where the run stands: `running`, or how it ended.
    pub status: RunStatus,
    /// The workflow's result once completed, otherwise `None` (see [`Run::result_as`]).
    #[serde(default)]
    pub result: Option<Value>,
    /// Why the workflow did not complete.
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    /// Starts only: true when an earlier request's run was returned instead of a new one.
    #[serde(default)]
    pub replayed: Option<bool>,
    /// Update-with-start only: the update's id and result.
    #[serde(default)]
    pub update: Option<RunUpdate>,
}

/// The update an update-with-start ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunUpdate {
    /// Its id.
    pub update_id: String,
    /// Its result.
    #[serde(default)]
    pub result: Value,
}

impl Run {
    /// The result as the workflow's output type (`None` until it completed).
    pub fn result_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        self.result
            .clone()
            .filter(|v| !v.is_null())
            .map(serde_json::from_value)
            .transpose()
            .map_err(|source| Error::Decode {
                status: 200,
                source,
            })
    }
}

/// The answer to a `/v1` start: the run, and how the API answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The run (`replayed` is true when no new run was created).
    pub run: Run,
    /// True when the answer was **202 Accepted**: the workflow was still running (no wait was
    /// asked for, or it did not end within the wait); false for **200** (it ended in time).
    pub accepted: bool,
    /// The `Location` header of a 202: where to get the result
    /// (`/v1/workflows/{workflow_id}/result`).
    pub location: Option<String>,
}

impl Started {
    /// Whether an earlier request's run was returned (same `Idempotency-Key`, or `use_existing`).
    pub fn replayed(&self) -> bool {
        self.run.replayed.unwrap_or(false)
    }
}

/// A workflow execution, its latest run (`WorkflowOut`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// Workflow id.
    pub workflow_id: String,
    /// Run id of the latest run.
    pub run_id: String,
    /// Temporal workflow type, e.g. `OrderApprovalWorkflow`.
    pub workflow_type: String,
    /// Task queue.
    pub task_queue: String,
    /// Where the run stands: `running`, `completed`, ... (`continued_as_new`, `paused` too).
    pub status: RunStatus,
    /// When the run was created.
    #[serde(default)]
    pub start_time: Option<String>,
    /// When it was due to run (later than `start_time` with a start delay).
    #[serde(default)]
    pub execution_time: Option<String>,
    /// When it closed; `None` while running.
    #[serde(default)]
    pub close_time: Option<String>,
    /// Events in its history so far.
    pub history_length: u64,
    /// Its memo.
    pub memo: Map<String, Value>,
    /// Its search attributes.
    pub search_attributes: Map<String, Value>,
}

/// One workflow of a list (`WorkflowSummaryOut`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowSummary {
    /// Workflow id.
    pub workflow_id: String,
    /// Run id.
    pub run_id: String,
    /// Temporal workflow type.
    pub workflow_type: String,
    /// Task queue.
    pub task_queue: String,
    /// Where the run stands, as on describe.
    pub status: RunStatus,
    /// When the run was created.
    #[serde(default)]
    pub start_time: Option<String>,
    /// When it was due to run.
    #[serde(default)]
    pub execution_time: Option<String>,
    /// When it closed; `None` while running.
    #[serde(default)]
    pub close_time: Option<String>,
}

/// A page of workflows (`WorkflowPageOut`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowPage {
    /// The workflows of this page, most recent first.
    pub workflows: Vec<WorkflowSummary>,
    /// Pass as `page_token` for the next page; `None` on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// Answer to a signal, query, update, cancel or terminate (`MessageOut`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageReply {
    /// Workflow id.
    pub workflow_id: String,
    /// The run the message went to (the latest).
    pub run_id: String,
    /// What the request did: `signaled`, `queried`, `updated`, `cancel_requested` or
    /// `terminated`.
    pub action: String,
    /// The query's or update's result (absent otherwise).
    #[serde(default)]
    pub result: Option<Value>,
    /// The update's id (updates only).
    #[serde(default)]
    pub update_id: Option<String>,
}

/// The answer to an update: its result, typed, and its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated<T> {
    /// Workflow id.
    pub workflow_id: String,
    /// The run the update went to.
    pub run_id: String,
    /// The update's id (derived from the `Idempotency-Key` when one was sent).
    pub update_id: Option<String>,
    /// What the update returned.
    pub result: T,
}
