//! Workflow and activity code (feature `worker`).
#![expect(
    missing_docs,
    reason = "the SDK macros generate undocumented marker constants for each method"
)]

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use temporalio_common::{RetryPolicy, error::ApplicationFailure};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, WorkflowContext, WorkflowResult, WorkflowTermination,
    activities::{ActivityContext, ActivityError},
    workflows::join_all,
};

use super::{Fruit, INVALID_SHOPPING_LIST, OrderMetrics, ShoppingList, order_line};

/// An order activity does no I/O of its own; [`ORDER_START_TO_CLOSE`] covers an `order_delay` of a
/// few seconds and a loaded machine. Retries cover a worker that dies mid-activity: the same
/// activity runs again on another worker, backing off up to 10 s, for at most 10 attempts.
fn activity_options(order_timeout: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(order_timeout)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(200))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .maximum_attempts(10)
                .non_retryable_error_types([INVALID_SHOPPING_LIST])
                .build(),
        )
        .build()
}

/// A non-retryable failure: retrying a malformed list cannot succeed.
fn invalid_list(message: String) -> ApplicationFailure {
    ApplicationFailure::builder(message)
        .type_name(INVALID_SHOPPING_LIST.to_owned())
        .non_retryable(true)
        .build()
}

/// How long one order activity may run before Temporal retries it elsewhere.
const ORDER_START_TO_CLOSE: Duration = Duration::from_secs(30);

/// Orders every item of a [`ShoppingList`] and returns the order lines in list order.
///
/// The input is read as plain JSON and checked here, so a malformed list sent by any client
/// fails the workflow with an `InvalidShoppingList` error instead of retrying a workflow task
/// forever.
#[workflow]
#[derive(Default)]
pub struct ShoppingWorkflow;

type OrderFuture<'a> = Pin<Box<dyn Future<Output = Result<String, ActivityExecutionError>> + 'a>>;

#[workflow_methods]
impl ShoppingWorkflow {
    /// Checks the list, then orders its items (see [`order_items`]).
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: serde_json::Value,
    ) -> WorkflowResult<String> {
        let list: ShoppingList = serde_json::from_value(input)
            .map_err(|e| invalid_list(format!("invalid shopping list: {e}")))?;
        order_items(ctx, &list.items).await
    }
}

/// Orders `items` with the order activities, concurrently; `join_all` is deterministic and
/// keeps the lines in item order. Shared by every workflow that orders fruit.
pub(crate) async fn order_items<W>(
    ctx: &WorkflowContext<W>,
    items: &[super::ShoppingItem],
) -> WorkflowResult<String> {
    let options = activity_options(ORDER_START_TO_CLOSE);
    let orders: Vec<OrderFuture<'_>> = items
        .iter()
        .map(|item| {
            let amount = i64::from(item.amount);
            let opts = options.clone();
            match item.fruit {
                Fruit::Apple => {
                    Box::pin(ctx.execute_activity(OrderActivities::order_apples, amount, opts))
                        as OrderFuture<'_>
                }
                Fruit::Banana => {
                    Box::pin(ctx.execute_activity(OrderActivities::order_bananas, amount, opts))
                }
                Fruit::Cherry => {
                    Box::pin(ctx.execute_activity(OrderActivities::order_cherries, amount, opts))
                }
                Fruit::Orange => {
                    Box::pin(ctx.execute_activity(OrderActivities::order_oranges, amount, opts))
                }
            }
        })
        .collect();
    let mut result = String::new();
    for line in join_all(orders).await {
        match line {
            Ok(line) => result.push_str(&line),
            // A cancel request reaches the activities first; end as CANCELED, not FAILED.
            Err(ActivityExecutionError::Cancelled(_)) => {
                return Err(WorkflowTermination::cancelled());
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(result)
}

/// The order activities. `order_delay` simulates slow suppliers (demos, drain and load tests).
#[derive(Debug, Clone, Default)]
pub struct OrderActivities {
    /// Artificial processing time of each order.
    pub order_delay: Duration,
    /// Where the items ordered are counted.
    pub metrics: OrderMetrics,
}

impl OrderActivities {
    async fn order(
        &self,
        ctx: &ActivityContext,
        fruit: Fruit,
        amount: i64,
    ) -> Result<String, ActivityError> {
        let amount = u64::try_from(amount)
            .ok()
            .filter(|a| *a > 0)
            .ok_or_else(|| {
                invalid_list(format!("amount must be a positive integer, got {amount}"))
            })?;
        if !self.order_delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(self.order_delay) => {}
                () = ctx.cancelled() => return Err(ActivityError::cancelled()),
            }
        }
        tracing::debug!(fruit = fruit.as_str(), amount, "order placed");
        self.metrics.ordered(fruit, amount);
        Ok(order_line(fruit, amount))
    }
}

#[activities]
impl OrderActivities {
    /// Orders apples.
    #[activity(name = "order_apples")]
    pub async fn order_apples(
        self: Arc<Self>,
        ctx: ActivityContext,
        amount: i64,
    ) -> Result<String, ActivityError> {
        self.order(&ctx, Fruit::Apple, amount).await
    }

    /// Orders bananas.
    #[activity(name = "order_bananas")]
    pub async fn order_bananas(
        self: Arc<Self>,
        ctx: ActivityContext,
        amount: i64,
    ) -> Result<String, ActivityError> {
        self.order(&ctx, Fruit::Banana, amount).await
    }

    /// Orders cherries.
    #[activity(name = "order_cherries")]
    pub async fn order_cherries(
        self: Arc<Self>,
        ctx: ActivityContext,
        amount: i64,
    ) -> Result<String, ActivityError> {
        self.order(&ctx, Fruit::Cherry, amount).await
    }

    /// Orders oranges.
    #[activity(name = "order_oranges")]
    pub async fn order_oranges(
        self: Arc<Self>,
        ctx: ActivityContext,
        amount: i64,
    ) -> Result<String, ActivityError> {
        self.order(&ctx, Fruit::Orange, amount).await
    }
}
