//! Why a run was canceled or terminated, as its history records it: the reason given to
//! `terminate`, or the cause given to `cancel`.

use temporalio_client::{NamespacedClient as _, grpc::WorkflowService, tonic::IntoRequest as _};
use temporalio_common::protos::temporal::api::{
    common::v1::WorkflowExecution, history::v1::history_event::Attributes,
    workflowservice::v1::GetWorkflowExecutionHistoryReverseRequest,
};

use super::{Gateway, failure};
use crate::{error::ApiError, metrics::TemporalOperation};

/// Events read from the end of a history: a cancel request is a few events before the close.
const LAST_EVENTS: i32 = 20;

impl Gateway {
    /// The reason recorded for the end of run `run_id` of `workflow_id` (its latest run when
    /// empty), if it was terminated or canceled with one.
    pub(super) async fn close_reason(
        &self,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<Option<String>, ApiError> {
        let call = async {
            let mut client = self.link.client()?;
            let request = GetWorkflowExecutionHistoryReverseRequest {
                namespace: client.namespace(),
                execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.to_owned(),
                    run_id: run_id.to_owned(),
                }),
                maximum_page_size: LAST_EVENTS,
                next_page_token: Vec::new(),
            };
            let mut request = request.into_request();
            request.set_timeout(self.rpc_timeout);
            let call = async move {
                WorkflowService::get_workflow_execution_history_reverse(&mut client, request).await
            };
            let response = self
                .link
                .bounded(self.rpc_timeout, call)
                .await?
                .map_err(failure::rpc_error)?;
            let events = response.into_inner().history.map(|h| h.events);
            // The latest termination or cancel request is the one that ended the run; without a
            // reason it has none (an earlier request's reason is not this end's).
            let reason = events
                .into_iter()
                .flatten()
                .find_map(|event| match event.attributes? {
                    Attributes::WorkflowExecutionTerminatedEventAttributes(t) => Some(t.reason),
                    Attributes::WorkflowExecutionCancelRequestedEventAttributes(c) => Some(c.cause),
                    _ => None,
                });
            Ok(reason.filter(|reason| !reason.trim().is_empty()))
        };
        self.observed(TemporalOperation::History, call).await
    }
}
