//! Everything `DescribeWorkflowExecution` tells about a workflow, with its memo and search
//! attributes decoded to JSON.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;
use temporalio_client::WorkflowExecutionStatus;
use temporalio_common::protos::temporal::api::{
    common::v1::{Payload, WorkflowExecution},
    enums::v1::WorkflowExecutionStatus as ProtoStatus,
    workflow::v1::WorkflowExecutionInfo,
    workflowservice::v1::DescribeWorkflowExecutionRequest,
};

use super::{Gateway, failure, payload};
use crate::{error::ApiError, metrics::TemporalOperation};

/// A workflow execution as `describe` reports it (its latest run).
#[derive(Debug, Clone)]
pub(crate) struct Execution {
    /// Workflow id.
    pub workflow_id: String,
    /// Run id of the latest run.
    pub run_id: String,
    /// Temporal workflow type.
    pub workflow_type: String,
    /// Task queue.
    pub task_queue: String,
    /// Status.
    pub status: WorkflowExecutionStatus,
    /// When the run was created.
    pub start_time: Option<DateTime<Utc>>,
    /// When its first task was due (after any start delay).
    pub execution_time: Option<DateTime<Utc>>,
    /// When it closed, if it has.
    pub close_time: Option<DateTime<Utc>>,
    /// Events in its history.
    pub history_length: usize,
    /// Memo fields, decoded (a field that is not JSON reads as its encoding's name).
    pub memo: BTreeMap<String, Value>,
    /// Search attributes, decoded.
    pub search_attributes: BTreeMap<String, Value>,
}

impl Gateway {
    /// Describes the latest run of `workflow_id`.
    pub(crate) async fn describe_execution(
        &self,
        workflow_id: &str,
    ) -> Result<Execution, ApiError> {
        self.describe_run(workflow_id, None).await
    }

    /// Describes run `run_id` of `workflow_id`, or its latest run.
    pub(crate) async fn describe_run(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
    ) -> Result<Execution, ApiError> {
        self.observed(
            TemporalOperation::Describe,
            self.describe_unobserved(workflow_id, run_id),
        )
        .await
    }

    async fn describe_unobserved(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
    ) -> Result<Execution, ApiError> {
        let mut direct = self.link.direct()?;
        let request = DescribeWorkflowExecutionRequest {
            namespace: direct.namespace().to_owned(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.to_owned(),
                run_id: run_id.unwrap_or_default().to_owned(),
            }),
        };
        let call = direct.call(
            |s, r| s.describe_workflow_execution(r),
            self.rpc_timeout,
            || request.clone(),
        );
        let d = match self.link.bounded(self.rpc_timeout, call).await? {
            Ok(d) => d.into_inner(),
            Err(e) => return Err(failure::read_error(e, workflow_id)),
        };
        d.workflow_execution_info
            .as_ref()
            .map(execution)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("describe answered without info")))
    }
}

/// An execution from Temporal's `WorkflowExecutionInfo` (describe and list share it).
pub(super) fn execution(info: &WorkflowExecutionInfo) -> Execution {
    macro_rules! time {
        ($field:expr) => {
            $field
                .as_ref()
                .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        };
    }
    let status = ProtoStatus::try_from(info.status).unwrap_or(ProtoStatus::Unspecified);
    let execution = info.execution.as_ref();
    Execution {
        workflow_id: execution.map(|e| e.workflow_id.clone()).unwrap_or_default(),
        run_id: execution.map(|e| e.run_id.clone()).unwrap_or_default(),
        workflow_type: info
            .r#type
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        task_queue: info.task_queue.clone(),
        status: status.into(),
        start_time: time!(info.start_time),
        execution_time: time!(info.execution_time),
        close_time: time!(info.close_time),
        history_length: usize::try_from(info.history_length).unwrap_or(0),
        memo: decode_fields(info.memo.as_ref().map(|m| &m.fields)),
        search_attributes: decode_fields(
            info.search_attributes.as_ref().map(|s| &s.indexed_fields),
        ),
    }
}

/// Decodes memo or search-attribute fields: JSON when they are JSON, else a note saying what
/// they are (another SDK may have written binary or encrypted payloads).
pub(super) fn decode_fields(fields: Option<&HashMap<String, Payload>>) -> BTreeMap<String, Value> {
    fields
        .into_iter()
        .flatten()
        .map(|(key, payload)| (key.clone(), payload::decode_payload(payload)))
        .collect()
}
