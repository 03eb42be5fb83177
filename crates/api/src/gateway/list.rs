//! One page of a visibility query (`ListWorkflowExecutions`).
//!
//! The SDK's `list_workflows` is a stream that hides page tokens; a paginated HTTP API hands
//! the token to its client, so this uses the raw RPC.

use temporalio_client::{
    NamespacedClient, grpc::WorkflowService, tonic::Code, tonic::IntoRequest as _,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;

use super::{Gateway, describe::Execution, failure};
use crate::{error::ApiError, metrics::TemporalOperation};

/// A page of executions and the token of the next one (`None` on the last page).
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Executions, most recent first (Temporal's order).
    pub executions: Vec<Execution>,
    /// Opaque token of the next page.
    pub next_page_token: Option<Vec<u8>>,
}

impl Gateway {
    /// Lists the executions matching `query` (empty: all), `page_size` at a time, from
    /// `page_token` (empty: the first page).
    pub(crate) async fn list(
        &self,
        query: &str,
        page_size: i32,
        page_token: Vec<u8>,
    ) -> Result<Page, ApiError> {
        let call = async {
            let mut client = self.link.client()?;
            let mut request = ListWorkflowExecutionsRequest {
                namespace: client.namespace(),
                page_size,
                next_page_token: page_token,
                query: query.to_owned(),
            }
            .into_request();
            request.set_timeout(self.rpc_timeout);
            let call = async move {
                WorkflowService::list_workflow_executions(&mut client, request).await
            };
            match self.link.bounded(self.rpc_timeout, call).await? {
                Ok(response) => {
                    let response = response.into_inner();
                    Ok(Page {
                        executions: response
                            .executions
                            .iter()
                            .map(super::describe::execution)
                            .collect(),
                        next_page_token: (!response.next_page_token.is_empty())
                            .then_some(response.next_page_token),
                    })
                }
                Err(status) if status.code() == Code::InvalidArgument => Err(
                    ApiError::InvalidVisibilityQuery(status.message().to_owned()),
                ),
                Err(status) => Err(failure::rpc_error(status)),
            }
        };
        self.observed(TemporalOperation::List, call).await
    }
}
