//! `POST /workflows/shopping` (start and wait) and `POST /workflows/shopping/async`.

use axum::{
    Json,
    extract::State,
    http::{Method, header},
    response::{IntoResponse, Response},
};
use flowgate_config::{Action, ShoppingSettings};
use flowgate_workflows::shopping::{
    Fruit, ShoppingItem, ShoppingList, WORKFLOW_ID_PREFIX, WORKFLOW_TYPE,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    access::{Access, ApiRouter, On},
    error::{ApiError, FieldError, Problem},
    extract::{ApiJson, check_chosen_workflow_id},
    gateway::Outcome,
    routes::executions::{RunStatus, WorkflowRunOut, result_location, run_response},
    state::AppState,
};

/// Shopping routes: starting needs `start` on the shopping workflow.
pub fn routes(router: ApiRouter) -> ApiRouter {
    let start = Access::Requires(
        Action::Start,
        On::Workflow(flowgate_workflows::shopping::NAME),
    );
    router
        .route(
            Method::POST,
            "/workflows/shopping",
            start,
            create_shopping_workflow,
        )
        .route(
            Method::POST,
            "/workflows/shopping/async",
            start,
            create_shopping_workflow_async,
        )
}

/// A shopping list, as in the guide.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}))]
pub struct ShoppingIn {
    /// What to order, in order (at least one, at most `shopping.max_items`).
    pub items: Vec<ItemIn>,
    /// Your own workflow id (optional). Ids are never reused: a second start with the same id
    /// is a 409. Without one, `shopping-workflow-<uuid>` is generated.
    #[serde(default)]
    pub workflow_id: Option<String>,
}

/// One item.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ItemIn {
    /// The fruit.
    pub fruit: Fruit,
    /// How many: 1 to `shopping.max_amount`.
    #[schema(minimum = 1, example = 5)]
    pub amount: i64,
}

impl ShoppingIn {
    /// Checks the limits, reporting every offending field at once.
    fn validate(self, limits: &ShoppingSettings) -> Result<(String, ShoppingList), ApiError> {
        let mut errors = Vec::new();
        if self.items.is_empty() {
            errors.push(FieldError::new("/items", "must contain at least one item"));
        }
        if self.items.len() > limits.max_items {
            errors.push(FieldError::new(
                "/items",
                format!("must contain at most {} items", limits.max_items),
            ));
        }
        let mut items = Vec::with_capacity(self.items.len());
        for (i, item) in self.items.into_iter().enumerate() {
            let pointer = format!("/items/{i}/amount");
            if item.amount < 1 {
                errors.push(FieldError::new(
                    pointer,
                    format!("must be at least 1, got {}", item.amount),
                ));
            } else if item.amount > i64::from(limits.max_amount) {
                errors.push(FieldError::new(
                    pointer,
                    format!("must be at most {}, got {}", limits.max_amount, item.amount),
                ));
            } else if let Ok(amount) = u32::try_from(item.amount) {
                items.push(ShoppingItem {
                    fruit: item.fruit,
                    amount,
                });
            }
        }
        if let Some(Err(problem)) = self.workflow_id.as_deref().map(check_chosen_workflow_id) {
            errors.push(FieldError::new("/workflow_id", problem));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let id = self
            .workflow_id
            .unwrap_or_else(|| format!("{WORKFLOW_ID_PREFIX}{}", uuid::Uuid::new_v4()));
        Ok((id, ShoppingList { items }))
    }
}

async fn start(state: &AppState, body: ShoppingIn) -> Result<String, ApiError> {
    let chosen = body.workflow_id.is_some();
    let (workflow_id, list) = body.validate(&state.settings.shopping)?;
    tracing::info!(%workflow_id, items = list.items.len(), "starting shopping workflow");
    let started = state
        .gateway
        .start(
            WORKFLOW_TYPE,
            &state.settings.worker.task_queue,
            workflow_id,
            &list,
            chosen,
        )
        .await?;
    Ok(started.workflow_id)
}

/// Start a shopping workflow and wait for its result. Answers 202 with status `running` if it
/// has not finished within `api.result_wait`.
#[utoipa::path(post, path = "/workflows/shopping", tag = "shopping",
    request_body = ShoppingIn,
    responses(
        (status = 200, description = "The workflow ended: `completed` with its result, or failed/canceled/terminated/timed_out with an error", body = WorkflowRunOut,
            example = json!({"workflow_id": "shopping-workflow-abc123", "status": "completed", "result": "Ordered 5 Apples...Ordered 3 Bananas..."})),
        (status = 202, description = "Started, still running when the wait ended", body = WorkflowRunOut,
            headers(("Location" = String, description = "Where to fetch the result"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The chosen workflow id was used before", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid shopping list", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Temporal unavailable; retry after Retry-After seconds", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_shopping_workflow(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ShoppingIn>,
) -> Result<Response, ApiError> {
    let workflow_id = start(&state, body).await?;
    let outcome = match state
        .gateway
        .outcome(&workflow_id, state.settings.api.result_wait)
        .await
    {
        Ok(outcome) => outcome,
        // The workflow was accepted; losing sight of it now must not read as "not started",
        // or a retrying client would start it twice. Point at its result instead.
        Err(ApiError::TemporalUnavailable(error)) => {
            tracing::warn!(%workflow_id, reason = %error.reason, "started, but cannot wait for the result");
            Outcome::Running
        }
        Err(other) => return Err(other),
    };
    Ok(run_response(workflow_id, outcome))
}

/// Start a shopping workflow and return at once.
#[utoipa::path(post, path = "/workflows/shopping/async", tag = "shopping",
    request_body = ShoppingIn,
    responses(
        (status = 200, description = "Started", body = WorkflowRunOut,
            headers(("Location" = String, description = "Where to fetch the result")),
            example = json!({"workflow_id": "shopping-workflow-xyz789", "status": "started", "result": null})),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The chosen workflow id was used before", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid shopping list", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Temporal unavailable; retry after Retry-After seconds", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_shopping_workflow_async(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ShoppingIn>,
) -> Result<Response, ApiError> {
    let workflow_id = start(&state, body).await?;
    let location = result_location(&workflow_id);
    let body = WorkflowRunOut {
        workflow_id,
        status: RunStatus::Started,
        result: None,
        error: None,
    };
    Ok(([(header::LOCATION, location)], Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ShoppingSettings {
        ShoppingSettings {
            task_queue: None,
            max_items: 2,
            max_amount: 10,
            order_delay: std::time::Duration::ZERO,
        }
    }

    fn body(items: &[(Fruit, i64)]) -> ShoppingIn {
        ShoppingIn {
            items: items
                .iter()
                .map(|(fruit, amount)| ItemIn {
                    fruit: *fruit,
                    amount: *amount,
                })
                .collect(),
            workflow_id: None,
        }
    }

    fn pointers(result: Result<(String, ShoppingList), ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.pointer).collect(),
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_list_gets_a_generated_shopping_workflow_id() {
        let (id, list) = body(&[(Fruit::Apple, 5)]).validate(&limits()).unwrap();
        assert!(id.starts_with("shopping-workflow-"), "{id}");
        assert_eq!(
            list.items,
            vec![ShoppingItem {
                fruit: Fruit::Apple,
                amount: 5
            }]
        );
    }

    #[test]
    fn every_bad_amount_is_reported() {
        let result = body(&[(Fruit::Apple, 0), (Fruit::Banana, 11)]).validate(&limits());
        assert_eq!(pointers(result), ["/items/0/amount", "/items/1/amount"]);
    }

    #[test]
    fn empty_and_oversized_lists_are_rejected() {
        assert_eq!(pointers(body(&[]).validate(&limits())), ["/items"]);
        let three = [(Fruit::Apple, 1), (Fruit::Apple, 1), (Fruit::Apple, 1)];
        assert_eq!(pointers(body(&three).validate(&limits())), ["/items"]);
    }

    #[test]
    fn chosen_workflow_ids_are_checked() {
        assert!(check_chosen_workflow_id("order-42/β").is_ok());
        assert!(check_chosen_workflow_id(" ").is_err());
        assert!(check_chosen_workflow_id("a\nb").is_err());
        assert!(check_chosen_workflow_id(&"x".repeat(256)).is_err());
        let flowgate_made = format!("shopping-workflow-{}", uuid::Uuid::new_v4());
        assert!(
            check_chosen_workflow_id(&flowgate_made).is_err(),
            "reserved"
        );
        assert!(check_chosen_workflow_id("order-approval-1f2e").is_ok());
    }
}
