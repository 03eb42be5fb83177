//! Keyed signals and updates: each carries its idempotency record in a Temporal header, so a
//! later message under the same key finds it in the workflow's history and can tell a retry (same
//! argument) from a misuse (another argument, 422).

use std::collections::HashMap;

use serde_json::{Value, json};
use temporalio_client::{UntypedWorkflow, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::{
    common::v1::Header, history::v1::history_event::Attributes,
};

use super::{Gateway, failure, payload};
use crate::{error::ApiError, metrics::TemporalOperation};

/// Header field holding a keyed message's record.
const HEADER_FIELD: &str = "flowgate-idempotency";

/// A keyed message: its Temporal id (signal request id or update id), and the hashes of its
/// scoped key and of its argument.
#[derive(Debug, Clone)]
pub(crate) struct Keyed {
    /// The signal's request id or the update's id.
    pub id: String,
    /// SHA-256 (hex) of the principal, workflow, message and key.
    pub key: String,
    /// SHA-256 (hex) of the normalised argument.
    pub argument: String,
}

impl Keyed {
    /// The header that records this message.
    pub(super) fn header(&self) -> Result<Header, ApiError> {
        let record = json!({ "key": self.key, "argument": self.argument });
        let field = payload::json_payload(&record).map_err(ApiError::internal)?;
        Ok(Header {
            fields: HashMap::from([(HEADER_FIELD.to_owned(), field)]),
        })
    }
}

/// The record in `header`, if it has one: (key, argument).
fn record(header: Option<&Header>) -> Option<(String, String)> {
    let value = payload::decode_payload(header?.fields.get(HEADER_FIELD)?);
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    Some((text("key")?, text("argument")?))
}

impl Gateway {
    /// The argument hash of a signal or update that the latest run of `workflow_id` received
    /// under `key` (from its history), if any.
    pub(crate) async fn keyed_argument(
        &self,
        workflow_id: &str,
        key: &str,
    ) -> Result<Option<String>, ApiError> {
        let call = async {
            let client = self.link.client()?;
            let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
            let history = handle
                .fetch_history(WorkflowFetchHistoryOptions::default())
                .into_events();
            let events = self
                .link
                .bounded(self.rpc_timeout, history)
                .await?
                .map_err(|e| failure::interaction_error(e, workflow_id))?;
            Ok(events.into_iter().find_map(|event| {
                let header = match event.attributes? {
                    Attributes::WorkflowExecutionSignaledEventAttributes(signaled) => {
                        signaled.header
                    }
                    Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(accepted) => {
                        accepted.accepted_request?.input?.header
                    }
                    Attributes::WorkflowExecutionUpdateAdmittedEventAttributes(admitted) => {
                        admitted.request?.input?.header
                    }
                    _ => None,
                };
                record(header.as_ref())
                    .filter(|(found, _)| found == key)
                    .map(|(_, argument)| argument)
            }))
        };
        self.observed(TemporalOperation::History, call).await
    }
}
