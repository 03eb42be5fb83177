//! The canned answers: valid responses built from the request alone, as a real frontend would
//! shape them for a run that has already completed.

use std::time::SystemTime;

use prost_wkt_types::Timestamp;
use temporalio_common::protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowExecution, WorkflowType},
    enums::v1::{EventType, WorkflowExecutionStatus},
    history::v1::{
        History, HistoryEvent, WorkflowExecutionCompletedEventAttributes, history_event::Attributes,
    },
    workflow::v1::WorkflowExecutionInfo,
    workflowservice::v1::{
        DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse, GetSystemInfoRequest,
        GetSystemInfoResponse, GetWorkflowExecutionHistoryRequest,
        GetWorkflowExecutionHistoryResponse, StartWorkflowExecutionRequest,
        StartWorkflowExecutionResponse, get_system_info_response::Capabilities,
    },
};
use tonic::Status;

/// The workflow type every described run has.
const WORKFLOW_TYPE: &str = "ShoppingWorkflow";
/// What every completed run returned (a one-item shopping list's result).
const RESULT: &str = "\"Ordered 1 Apples...\"";
/// The run id of runs asked for by workflow id alone.
const LATEST_RUN: &str = "00000000-0000-4000-8000-000000000000";

/// `GetSystemInfo`: a current server's version and capabilities.
pub(crate) fn system_info(_: GetSystemInfoRequest) -> Result<GetSystemInfoResponse, Status> {
    Ok(GetSystemInfoResponse {
        server_version: "1.29.0-null".to_owned(),
        capabilities: Some(Capabilities {
            signal_and_query_header: true,
            internal_error_differentiation: true,
            activity_failure_include_heartbeat: true,
            supports_schedules: true,
            encoded_failure_attributes: true,
            build_id_based_versioning: true,
            upsert_memo: true,
            eager_workflow_start: true,
            sdk_metadata: true,
            count_group_by_execution_status: true,
            nexus: true,
            ..Default::default()
        }),
    })
}

/// `StartWorkflowExecution`: a new run, started.
pub(crate) fn start(
    request: StartWorkflowExecutionRequest,
) -> Result<StartWorkflowExecutionResponse, Status> {
    if request.workflow_id.is_empty() || request.workflow_type.is_none() {
        return Err(Status::invalid_argument(
            "workflow id and type are required",
        ));
    }
    Ok(StartWorkflowExecutionResponse {
        run_id: uuid::Uuid::new_v4().to_string(),
        started: true,
        ..Default::default()
    })
}

/// `DescribeWorkflowExecution`: the asked run (or the latest) of the asked id, completed.
pub(crate) fn describe(
    request: DescribeWorkflowExecutionRequest,
) -> Result<DescribeWorkflowExecutionResponse, Status> {
    let execution = run_of(request.execution)?;
    let now = now();
    Ok(DescribeWorkflowExecutionResponse {
        workflow_execution_info: Some(WorkflowExecutionInfo {
            execution: Some(execution),
            r#type: Some(WorkflowType {
                name: WORKFLOW_TYPE.to_owned(),
            }),
            start_time: Some(now),
            execution_time: Some(now),
            close_time: Some(now),
            status: WorkflowExecutionStatus::Completed as i32,
            history_length: 11,
            task_queue: "shopping-tasks".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// `GetWorkflowExecutionHistory`: the run has completed, whatever the request waits for (a
/// result long-poll asks for the close event only): its one close event with the result.
pub(crate) fn history(
    request: GetWorkflowExecutionHistoryRequest,
) -> Result<GetWorkflowExecutionHistoryResponse, Status> {
    run_of(request.execution)?;
    let completed = WorkflowExecutionCompletedEventAttributes {
        result: Some(Payloads {
            payloads: vec![Payload {
                metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
                data: RESULT.as_bytes().to_vec(),
                ..Default::default()
            }],
        }),
        workflow_task_completed_event_id: 10,
        ..Default::default()
    };
    Ok(GetWorkflowExecutionHistoryResponse {
        history: Some(History {
            events: vec![HistoryEvent {
                event_id: 11,
                event_time: Some(now()),
                event_type: EventType::WorkflowExecutionCompleted as i32,
                attributes: Some(Attributes::WorkflowExecutionCompletedEventAttributes(
                    completed,
                )),
                ..Default::default()
            }],
        }),
        ..Default::default()
    })
}

/// The run a request names: its run id, or the latest run's.
fn run_of(execution: Option<WorkflowExecution>) -> Result<WorkflowExecution, Status> {
    let mut execution =
        execution.ok_or_else(|| Status::invalid_argument("execution is required"))?;
    if execution.workflow_id.is_empty() {
        return Err(Status::invalid_argument("workflow id is required"));
    }
    if execution.run_id.is_empty() {
        LATEST_RUN.clone_into(&mut execution.run_id);
    }
    Ok(execution)
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_runs_history_is_its_completion_with_a_json_result() {
        let answer = history(GetWorkflowExecutionHistoryRequest {
            execution: Some(WorkflowExecution {
                workflow_id: "w".to_owned(),
                run_id: String::new(),
            }),
            ..Default::default()
        })
        .unwrap();
        let events = answer.history.unwrap().events;
        assert_eq!(events.len(), 1);
        let Some(Attributes::WorkflowExecutionCompletedEventAttributes(done)) =
            &events[0].attributes
        else {
            panic!("not a completion: {:?}", events[0]);
        };
        let payload = &done.result.as_ref().unwrap().payloads[0];
        assert_eq!(payload.metadata["encoding"], b"json/plain");
        assert_eq!(payload.data, RESULT.as_bytes());
    }

    #[test]
    fn requests_without_an_id_are_refused() {
        let error = describe(DescribeWorkflowExecutionRequest::default()).unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument);
        let start = start(StartWorkflowExecutionRequest::default()).unwrap_err();
        assert_eq!(start.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn a_describe_names_the_asked_id_and_a_run() {
        let answer = describe(DescribeWorkflowExecutionRequest {
            execution: Some(WorkflowExecution {
                workflow_id: "w".to_owned(),
                run_id: String::new(),
            }),
            ..Default::default()
        })
        .unwrap();
        let info = answer.workflow_execution_info.unwrap();
        let execution = info.execution.unwrap();
        assert_eq!(execution.workflow_id, "w");
        assert_eq!(execution.run_id, LATEST_RUN);
        assert_eq!(info.status, WorkflowExecutionStatus::Completed as i32);
    }
}
