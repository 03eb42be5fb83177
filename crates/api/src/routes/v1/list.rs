//! `GET /v1/workflows?query=…&page_size=…&page_token=…`: a visibility query, a page at a time.

use axum::{
    Json,
    extract::{Query, State},
};
use flowgate_workflows::callbacks;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::{
    error::{ApiError, Problem},
    gateway::Execution,
    routes::run::{RunStatus, rfc3339},
    state::AppState,
};

/// Page size without `page_size`.
const DEFAULT_PAGE_SIZE: i32 = 100;
/// Largest `page_size` (Temporal's default limit per page).
const MAX_PAGE_SIZE: i32 = 1000;

/// The query string of a list (checked in the handler, for precise errors).
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    query: Option<String>,
    page_size: Option<String>,
    page_token: Option<String>,
}

/// One workflow of a list (and the first part of a describe).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowSummaryOut {
    /// Workflow id.
    #[schema(example = "order-42")]
    pub workflow_id: String,
    /// Run id.
    pub run_id: String,
    /// Temporal workflow type.
    #[schema(example = "ShoppingWorkflow")]
    pub workflow_type: String,
    /// Task queue.
    #[schema(example = "shopping-tasks")]
    pub task_queue: String,
    /// Where the run stands: `running`, `completed`, `failed`, `canceled`, `terminated`,
    /// `timed_out`, `continued_as_new` (or `paused`).
    pub status: RunStatus,
    /// When the run was created, RFC 3339 UTC.
    pub start_time: Option<String>,
    /// When it was due to run (later than `start_time` with a start delay), RFC 3339 UTC.
    pub execution_time: Option<String>,
    /// When it closed; null while running.
    pub close_time: Option<String>,
}

/// A page of workflows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowPageOut {
    /// The workflows of this page, most recent first.
    pub workflows: Vec<WorkflowSummaryOut>,
    /// Pass as `page_token` for the next page; null on the last page.
    pub next_page_token: Option<String>,
}

impl From<Execution> for WorkflowSummaryOut {
    fn from(e: Execution) -> Self {
        Self {
            workflow_id: e.workflow_id,
            run_id: e.run_id,
            workflow_type: e.workflow_type,
            task_queue: e.task_queue,
            status: e.status.into(),
            start_time: e.start_time.map(rfc3339),
            execution_time: e.execution_time.map(rfc3339),
            close_time: e.close_time.map(rfc3339),
        }
    }
}

/// List workflows matching a Temporal visibility query, with cursor pagination.
#[utoipa::path(get, path = "/v1/workflows", tag = "v1",
    params(
        ("query" = Option<String>, Query, description = "Temporal visibility query, e.g. `WorkflowType = 'ShoppingWorkflow' AND ExecutionStatus = 'Running'`; empty: every workflow"),
        ("page_size" = Option<i32>, Query, minimum = 1, maximum = 1000, description = "Workflows per page, 1 to 1000 (default 100)"),
        ("page_token" = Option<String>, Query, description = "`next_page_token` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of workflows", body = WorkflowPageOut),
        (status = 400, description = "Temporal rejected the visibility query", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid page_size or page_token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_workflows(
    State(state): State<AppState>,
    query: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<WorkflowPageOut>, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::InvalidQuery {
        name: "query",
        problem: e.body_text(),
    })?;
    let page_size = match params.page_size.as_deref() {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => raw
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| ApiError::InvalidQuery {
                name: "page_size",
                problem: format!("{raw:?} is not a number from 1 to {MAX_PAGE_SIZE}"),
            })?,
    };
    let page_token = match params.page_token.as_deref().filter(|t| !t.is_empty()) {
        None => Vec::new(),
        Some(token) => open_token(token).ok_or_else(|| ApiError::InvalidQuery {
            name: "page_token",
            problem: "is not a next_page_token of this API".to_owned(),
        })?,
    };
    let query = &without_internal(params.query.as_deref().unwrap_or(""));
    let mut page = state.gateway.list(query, page_size, page_token).await?;
    page.executions
        .retain(|e| e.workflow_type != callbacks::DELIVERY_WORKFLOW_TYPE);
    let next_page_token = match page.next_page_token {
        // Temporal hands out a token after every full page: a page that ends the list says so
        // (a peek at the next page's first workflow tells; if the peek fails, the token stays).
        Some(token) if page.executions.len() >= usize::try_from(page_size).unwrap_or(0) => {
            let ends = state
                .gateway
                .list(query, 1, token.clone())
                .await
                .is_ok_and(|next| next.executions.is_empty());
            (!ends).then_some(token)
        }
        _ => None,
    };
    Ok(Json(WorkflowPageOut {
        workflows: page.executions.into_iter().map(Into::into).collect(),
        next_page_token: next_page_token.map(|t| seal_token(&t)),
    }))
}

/// `query` restricted to the workflows clients may see: Flowgate's own (webhook deliveries) are
/// left out, whatever the query asks for. An `ORDER BY` clause stays at the end.
fn without_internal(query: &str) -> String {
    let hidden = format!("WorkflowType != '{}'", callbacks::DELIVERY_WORKFLOW_TYPE);
    let lower = query.to_ascii_lowercase();
    let (filter, order) = match lower.rfind("order by") {
        Some(at) if !query[at..].contains(['\'', '"', ')']) => query.split_at(at),
        _ => (query, ""),
    };
    let filter = filter.trim();
    if filter.is_empty() {
        format!("{hidden} {order}").trim_end().to_owned()
    } else {
        format!("{hidden} AND ({filter}) {order}")
            .trim_end()
            .to_owned()
    }
}

/// Bytes of a checksum that prefix Temporal's page token in `next_page_token`.
const CHECKSUM_LEN: usize = 8;

/// Temporal's page token as this API hands it out: hex of a checksum and the token, so a token
/// this API did not give is refused at once (422) instead of reaching Temporal, which stalls on
/// tokens it cannot read.
fn seal_token(token: &[u8]) -> String {
    let mut sealed = Sha256::digest(token)[..CHECKSUM_LEN].to_vec();
    sealed.extend_from_slice(token);
    to_hex(&sealed)
}

/// The Temporal page token inside a `next_page_token` of [`seal_token`].
fn open_token(text: &str) -> Option<Vec<u8>> {
    let bytes = from_hex(text)?;
    if bytes.len() <= CHECKSUM_LEN {
        return None;
    }
    let (checksum, token) = bytes.split_at(CHECKSUM_LEN);
    (Sha256::digest(token)[..CHECKSUM_LEN] == *checksum).then(|| token.to_vec())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_leave_flowgates_own_workflows_out() {
        assert_eq!(
            without_internal(""),
            "WorkflowType != 'FlowgateCallbackDelivery'"
        );
        assert_eq!(
            without_internal("WorkflowId = 'a' OR true"),
            "WorkflowType != 'FlowgateCallbackDelivery' AND (WorkflowId = 'a' OR true)"
        );
        assert_eq!(
            without_internal("ExecutionStatus = 'Running' ORDER BY StartTime"),
            "WorkflowType != 'FlowgateCallbackDelivery' AND (ExecutionStatus = 'Running') ORDER BY StartTime"
        );
    }

    #[test]
    fn page_tokens_round_trip_through_hex() {
        let token = vec![0, 1, 0xab, 0xff];
        assert_eq!(from_hex(&to_hex(&token)), Some(token));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn only_tokens_this_api_sealed_open() {
        let token = b"temporal's own token".to_vec();
        assert_eq!(open_token(&seal_token(&token)), Some(token));
        assert_eq!(open_token("00ff"), None);
        assert_eq!(open_token(&to_hex(b"forged token bytes")), None);
        let mut tampered = seal_token(b"abc");
        tampered.push_str("00");
        assert_eq!(open_token(&tampered), None);
    }
}
