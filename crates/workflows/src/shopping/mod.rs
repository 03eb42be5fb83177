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

use crate::registry::{InputIssue, Validate, WorkflowDef};

/// Temporal workflow type name.
pub const WORKFLOW_TYPE: &str = "ShoppingWorkflow";

/// Default task queue of the workflow and its activities.
pub const DEFAULT_TASK_QUEUE: &str = "shopping-tasks";

/// Prefix of generated workflow ids: `shopping-workflow-<uuid>`.
pub const WORKFLOW_ID_PREFIX: &str = "shopping-workflow-";

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

/// One line of a shopping list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShoppingItem {
    /// What to order.
    pub fruit: Fruit,
    /// How many (at least 1).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 5))]
    pub amount: u32,
}

/// The workflow's input: `{"items":[{"fruit":"APPLE","amount":5}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]})))]
pub struct ShoppingList {
    /// Items, ordered in this order (at least one).
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub items: Vec<ShoppingItem>,
}

impl Validate for ShoppingList {
    fn issues(&self) -> Vec<InputIssue> {
        let mut issues = Vec::new();
        if self.items.is_empty() {
            issues.push(InputIssue::new("/items", "must contain at least one item"));
        }
        for (i, item) in self.items.iter().enumerate() {
            if item.amount < 1 {
                issues.push(InputIssue::new(
                    format!("/items/{i}/amount"),
                    "must be at least 1",
                ));
            }
        }
        issues
    }
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
pub fn definition() -> WorkflowDef {
    let def = WorkflowDef::new::<ShoppingList, ShoppingResult>(
        NAME,
        WORKFLOW_TYPE,
        WORKFLOW_ID_PREFIX,
        "Orders each item of a shopping list (one activity per item) and returns the order lines.",
        || serde_json::json!({"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}),
    );
    #[cfg(feature = "worker")]
    let def = def.implemented_by::<ShoppingWorkflow>();
    def
}

/// What one order activity returns: `Ordered 5 Apples...`.
pub fn order_line(fruit: Fruit, amount: u64) -> String {
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

    #[test]
    fn fruits_use_upper_case_wire_names() {
        for fruit in Fruit::ALL {
            let json = serde_json::to_string(&fruit).unwrap();
            assert_eq!(json, format!("\"{}\"", fruit.as_str()));
        }
    }
}
