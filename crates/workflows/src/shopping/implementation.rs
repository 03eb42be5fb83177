//! Workflow and activity code (feature `worker`).
#![expect(
    missing_docs,
    reason = "the SDK macros generate undocumented marker constants for each method"
)]

use std::{cell::Cell, future::Future, pin::Pin, sync::Arc, time::Duration};

use temporalio_common::{MemoValue, RetryPolicy, error::ApplicationFailure};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, WorkflowContext, WorkflowResult, WorkflowTermination,
    activities::{ActivityContext, ActivityError},
    workflows::join_all,
};

use super::{Fruit, INVALID_SHOPPING_LIST, OrderMetrics, OrderProgress, ShoppingList, order_line};
use crate::registry::PROGRESS_MEMO_KEY;

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

/// The patch that added progress reports: runs started before it replay without them.
const PROGRESS_PATCH: &str = "report-order-progress";

/// Orders `items` with the order activities, concurrently; `join_all` is deterministic and
/// keeps the lines in item order. Each item ordered is reported as the workflow's progress
/// ([`OrderProgress`]). Shared by every workflow that orders fruit.
pub(crate) async fn order_items<W>(
    ctx: &WorkflowContext<W>,
    items: &[super::ShoppingItem],
) -> WorkflowResult<String> {
    let options = activity_options(ORDER_START_TO_CLOSE);
    let report = ctx.patched(PROGRESS_PATCH);
    let total = u32::try_from(items.len()).unwrap_or(u32::MAX);
    let ordered = Cell::new(0_u32);
    let ordered = &ordered;
    let orders: Vec<OrderFuture<'_>> = items
        .iter()
        .map(|item| {
            let order = order_item(ctx, item, options.clone());
            Box::pin(async move {
                let line = order.await;
                if report && line.is_ok() {
                    ordered.set(ordered.get() + 1);
                    let progress = OrderProgress {
                        ordered: ordered.get(),
                        total,
                    };
                    let memo = [(PROGRESS_MEMO_KEY, Some(MemoValue::new(progress)))];
                    if let Err(error) = ctx.upsert_memo(memo) {
                        tracing::warn!(%error, "progress not reported");
                    }
                }
                line
            }) as OrderFuture<'_>
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

/// The order activity of one item.
fn order_item<'a, W>(
    ctx: &'a WorkflowContext<W>,
    item: &super::ShoppingItem,
    opts: ActivityOptions,
) -> OrderFuture<'a> {
    let amount = i64::from(item.amount);
    match item.fruit {
        Fruit::Apple => Box::pin(ctx.execute_activity(OrderActivities::order_apples, amount, opts))
            as OrderFuture<'_>,
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
