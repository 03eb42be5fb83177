//! The shopping workflow of Temporal's "activity choice" sample: one activity per item, chosen by
//! fruit, and the concatenation of their results in request order.
//!
//! The activity type names are stable and language-neutral (`order_apples`, ...), the same as
//! the Python sample's, so workers written with other Temporal SDKs can serve them.

#[cfg(feature = "worker")]
mod implementation;
#[cfg(feature = "worker")]
mod metrics;

#[cfg(feature = "worker")]
pub(crate) use implementation::order_items;
#[cfg(feature = "worker")]
pub use implementation::{OrderActivities, ShoppingWorkflow};
#[cfg(feature = "worker")]
pub use metrics::OrderMetrics;

use serde::{Deserialize, Serialize};

use crate::registry::{InputIssue, Limits, Validate, WorkflowDef};

/// Temporal workflow type name.
pub const WORKFLOW_TYPE: &str = "ShoppingWorkflow";

/// Default task queue of the workflow and its activities.
pub const DEFAULT_TASK_QUEUE: &str = "shopping-tasks";

/// Prefix of generated workflow ids: `shopping-workflow-<uuid>`.
pub(crate) const WORKFLOW_ID_PREFIX: &str = "shopping-workflow-";

/// Route name of the shopping workflow (`/v1/workflows/shopping`, `start:shopping`).
pub const NAME: &str = "shopping";

/// Failure type of a shopping list the workflow cannot process (non-retryable).
pub const INVALID_SHOPPING_LIST: &str = "InvalidShoppingList";

/// A fruit that can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Fruit {
    /// Apples.
    Apple,
    /// Bananas.
    Banana,
    /// Cherries.
    Cherry,
    /// Oranges.
    Orange,
}

impl Fruit {
    /// Every fruit, in the order of the sample.
    pub const ALL: [Fruit; 4] = [Fruit::Apple, Fruit::Banana, Fruit::Cherry, Fruit::Orange];

    /// The wire name (`APPLE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Fruit::Apple => "APPLE",
            Fruit::Banana => "BANANA",
            Fruit::Cherry => "CHERRY",
            Fruit::Orange => "ORANGE",
        }
    }

    /// Plural used in order lines (`Apples`).
    pub fn plural(self) -> &'static str {
        match self {
            Fruit::Apple => "Apples",
            Fruit::Banana => "Bananas",
            Fruit::Cherry => "Cherries",
            Fruit::Orange => "Oranges",
        }
    }

    /// Temporal activity type that orders this fruit.
    pub fn activity_type(self) -> &'static str {
        match self {
            Fruit::Apple => "order_apples",
            Fruit::Banana => "order_bananas",
            Fruit::Cherry => "order_cherries",
            Fruit::Orange => "order_oranges",
        }
    }
}

/// What a deployment allows in one shopping list (`shopping.max_items`, `shopping.max_amount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShoppingLimits {
    /// Most items in one list.
    pub max_items: usize,
    /// Largest amount of one item.
    pub max_amount: u32,
}

impl Default for ShoppingLimits {
    /// The configuration's defaults.
    fn default() -> Self {
        Self {
            max_items: 100,
            max_amount: 10_000,
        }
    }
}

/// One line of a shopping list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShoppingItem {
    /// What to order.
    pub fruit: Fruit,
    /// How many: 1 to `shopping.max_amount` (10000 by default).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 5))]
    #[serde(deserialize_with = "amount")]
    pub amount: u32,
}

/// An amount: any whole number, so that a negative one is told "must be at least 1" rather
/// than a type error.
fn amount<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let amount = i64::deserialize(deserializer)?;
    u32::try_from(amount).map_err(|_| {
        serde::de::Error::custom(if amount < 1 {
            format!("must be at least 1, got {amount}")
        } else {
            format!("must be at most {}, got {amount}", u32::MAX)
        })
    })
}

/// The workflow's input: `{"items":[{"fruit":"APPLE","amount":5}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]})))]
pub struct ShoppingList {
    /// Items, ordered in this order: 1 to `shopping.max_items` (100 by default).
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub items: Vec<ShoppingItem>,
}

/// How far an order has got, reported as the workflow's progress each time an item is ordered
/// (`progress` events of `GET /v1/workflows/{id}/events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"ordered": 1, "total": 2})))]
pub struct OrderProgress {
    /// Items ordered so far.
    pub ordered: u32,
    /// Items to order.
    pub total: u32,
}

impl Validate for OrderProgress {}

impl Validate for ShoppingList {
    fn issues(&self, limits: &Limits) -> Vec<InputIssue> {
        item_issues(&self.items, &limits.shopping)
    }
}

/// Every problem of a list of `items` at `/items` under `limits`: empty, too long, amounts out
/// of range (shared by every workflow that orders items).
pub(crate) fn item_issues(items: &[ShoppingItem], limits: &ShoppingLimits) -> Vec<InputIssue> {
    let mut issues = Vec::new();
    if items.is_empty() {
        issues.push(InputIssue::new("/items", "must contain at least one item"));
    }
    if items.len() > limits.max_items {
        issues.push(InputIssue::new(
            "/items",
            format!("must contain at most {} items", limits.max_items),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("/items/{i}/amount");
        if item.amount < 1 {
            issues.push(InputIssue::new(
                pointer,
                format!("must be at least 1, got {}", item.amount),
            ));
        } else if item.amount > limits.max_amount {
            issues.push(InputIssue::new(
                pointer,
                format!("must be at most {}, got {}", limits.max_amount, item.amount),
            ));
        }
    }
    issues
}

/// What the workflow returns: its order lines, e.g. `Ordered 5 Apples...Ordered 3 Bananas...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = "Ordered 5 Apples...Ordered 3 Bananas...")
)]
#[serde(transparent)]
pub struct ShoppingResult(pub String);

impl Validate for ShoppingResult {}

/// The shopping workflow's REST declaration (`/v1/workflows/shopping`).
pub(crate) fn definition() -> WorkflowDef {
    let def = WorkflowDef::new::<ShoppingList, ShoppingResult>(
        NAME,
        WORKFLOW_TYPE,
        WORKFLOW_ID_PREFIX,
        "Orders each item of a shopping list (one activity per item) and returns the order lines.",
        || serde_json::json!({"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}),
    )
    .progress::<OrderProgress>();
    #[cfg(feature = "worker")]
    let def = def.implemented_by::<ShoppingWorkflow>();
    def
}

/// What one order activity returns: `Ordered 5 Apples...`.
pub(crate) fn order_line(fruit: Fruit, amount: u64) -> String {
    format!("Ordered {amount} {}...", fruit.plural())
}

/// The workflow's result for a list: its order lines concatenated in list order.
pub fn expected_result(list: &ShoppingList) -> String {
    list.items
        .iter()
        .map(|item| order_line(item.fruit, item.amount.into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_lines_follow_the_sample() {
        assert_eq!(order_line(Fruit::Apple, 5), "Ordered 5 Apples...");
        assert_eq!(order_line(Fruit::Cherry, 1), "Ordered 1 Cherries...");
    }

    #[test]
    fn the_guides_example_gives_the_guides_result() {
        let list: ShoppingList = serde_json::from_str(
            r#"{"items":[{"fruit":"APPLE","amount":5},{"fruit":"BANANA","amount":3}]}"#,
        )
        .unwrap();
        assert_eq!(
            expected_result(&list),
            "Ordered 5 Apples...Ordered 3 Bananas..."
        );
    }

    fn pointers(items: &[(Fruit, u32)], max_items: usize, max_amount: u32) -> Vec<String> {
        let list = ShoppingList {
            items: items
                .iter()
                .map(|&(fruit, amount)| ShoppingItem { fruit, amount })
                .collect(),
        };
        let limits = Limits {
            shopping: ShoppingLimits {
                max_items,
                max_amount,
            },
        };
        list.issues(&limits)
            .into_iter()
            .map(|i| i.pointer)
            .collect()
    }

    #[test]
    fn every_amount_outside_the_limits_is_reported() {
        let items = [(Fruit::Apple, 0), (Fruit::Banana, 11), (Fruit::Cherry, 10)];
        assert_eq!(
            pointers(&items, 5, 10),
            ["/items/0/amount", "/items/1/amount"]
        );
    }

    #[test]
    fn empty_and_oversized_lists_are_rejected() {
        assert_eq!(pointers(&[], 2, 10), ["/items"]);
        let three = [(Fruit::Apple, 1); 3];
        assert_eq!(pointers(&three, 2, 10), ["/items"]);
        assert!(pointers(&three, 3, 10).is_empty());
    }

    #[test]
    fn fruits_use_upper_case_wire_names() {
        for fruit in Fruit::ALL {
            let json = serde_json::to_string(&fruit).unwrap();
            assert_eq!(json, format!("\"{}\"", fruit.as_str()));
        }
    }
}
