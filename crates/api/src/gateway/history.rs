//! Reading a run's history page by page, and watching it grow: Temporal's long-poll history read
//! (`wait_new_event`), which answers as soon as the run records an event.

use std::time::Duration;

use temporalio_client::{NamespacedClient as _, grpc::WorkflowService, tonic::IntoRequest as _};
use temporalio_common::protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::HistoryEventFilterType,
    history::v1::HistoryEvent,
    workflowservice::v1::{
        GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryResponse,
    },
};

use super::{Gateway, failure};
use crate::{error::ApiError, metrics::TemporalOperation};

/// Events asked for per page.
const PAGE_SIZE: i32 = 256;

/// Bound on one long-poll: Temporal ends a history long-poll with nothing new after 20 s.
pub(super) const LONG_POLL: Duration = Duration::from_secs(30);

/// One page of a run's history.
#[derive(Debug, Default)]
pub(crate) struct HistoryPage {
    /// Its events, in order.
    pub events: Vec<HistoryEvent>,
    /// Where the next page starts; empty once the run has closed and its last event was read.
    pub next_page_token: Vec<u8>,
}

impl Gateway {
    /// The page of run `run_id` of `workflow_id` after `token` (the first page when empty). With
    /// `wait`, a read at the end of a running run's history waits for its next event; Temporal
    /// answers an empty page, with a token to go on from, when none came in its poll's time.
    pub(crate) async fn history_page(
        &self,
        workflow_id: &str,
        run_id: &str,
        token: Vec<u8>,
        wait: bool,
    ) -> Result<HistoryPage, ApiError> {
        let timeout = if wait { LONG_POLL } else { self.rpc_timeout };
        let call = async {
            let mut client = self.link.client()?;
            let request = GetWorkflowExecutionHistoryRequest {
                namespace: client.namespace(),
                execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.to_owned(),
                    run_id: run_id.to_owned(),
                }),
                maximum_page_size: PAGE_SIZE,
                next_page_token: token,
                wait_new_event: wait,
                history_event_filter_type: HistoryEventFilterType::AllEvent as i32,
                skip_archival: true,
            };
            let mut request = request.into_request();
            request.set_timeout(timeout);
            let call = async move {
                WorkflowService::get_workflow_execution_history(&mut client, request).await
            };
            let response: GetWorkflowExecutionHistoryResponse = self
                .link
                .bounded(timeout, call)
                .await?
                .map_err(|status| failure::read_error(status, workflow_id))?
                .into_inner();
            Ok(HistoryPage {
                events: response.history.map(|h| h.events).unwrap_or_default(),
                next_page_token: response.next_page_token,
            })
        };
        let operation = if wait {
            TemporalOperation::WatchHistory
        } else {
            TemporalOperation::History
        };
        self.observed(operation, call).await
    }
}
