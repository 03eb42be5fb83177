//! A shopping cart: the workflow collects items (update `add_item`) until it is checked out
//! (signal `checkout`) or its `checkout_after` timer fires, then orders them with the shopping
//! activities. Query `status` reads the cart.
//!
//! The cart keeps one line per fruit: adding a fruit already in the cart adds to that line's
//! amount, so the lines keep the order in which each fruit was first added. A cart checked out
//! empty, by the signal or the timer, orders nothing and ends `abandoned`.
//!
//! Every message is invocable by name with one `json/plain` payload (the signal and the query
//! take none), so any client — the REST API included — can send it without the Rust types.

#[cfg(feature = "worker")]
mod implementation;
mod rules;
#[cfg(test)]
mod tests;

#[cfg(feature = "worker")]
pub use implementation::CartWorkflow;

use serde::{Deserialize, Serialize};

use crate::{
    registry::{Message, WorkflowDef},
    shopping::{OrderProgress, ShoppingItem},
};

/// Temporal workflow type name.
pub const WORKFLOW_TYPE: &str = "CartWorkflow";

/// Prefix of generated workflow ids: `cart-<uuid>`.
pub const WORKFLOW_ID_PREFIX: &str = "cart-";

/// Route name of the cart workflow (`/v1/workflows/cart`, `start:cart`).
pub const NAME: &str = "cart";

/// Failure type of a request the workflow cannot process (non-retryable).
pub const INVALID_CART_REQUEST: &str = "InvalidCartRequest";

/// How long a cart stays open when its request names no `checkout_after`.
pub const DEFAULT_CHECKOUT_AFTER: &str = "1h";

/// Signal that checks the cart out.
pub const SIGNAL_CHECKOUT: &str = "checkout";
/// Query that reads the [`CartStatus`].
pub const QUERY_STATUS: &str = "status";
/// Update that adds a [`ShoppingItem`] to an open cart.
pub const UPDATE_ADD_ITEM: &str = "add_item";

/// The workflow's input: who the cart is for, and when it checks out by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "customer": "ACME Corp",
    "checkout_after": "1h"
})))]
pub struct CartRequest {
    /// Who the cart is for (1 to 200 characters, not blank).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 200, example = "ACME Corp")
    )]
    pub customer: String,
    /// How long the cart stays open before it checks out by itself: a number of seconds or a
    /// duration such as `30s`, `15m`, `1h`, `7d` or `1h 30m`, from 1 second to 30 days.
    /// Default `1h`.
    #[serde(
        default,
        deserialize_with = "crate::duration::seconds_or_text",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<crate::duration::SecondsOrDuration>, example = "1h")
    )]
    pub checkout_after: Option<String>,
}

/// Where a cart stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CartState {
    /// Taking items.
    #[default]
    Open,
    /// Checked out with items: they are (being) ordered.
    CheckedOut,
    /// Checked out empty: nothing is ordered.
    Abandoned,
}

impl CartState {
    /// The wire name (`checked_out`).
    pub fn as_str(self) -> &'static str {
        match self {
            CartState::Open => "open",
            CartState::CheckedOut => "checked_out",
            CartState::Abandoned => "abandoned",
        }
    }
}

/// Result of query `status` and of update `add_item`: the cart as it stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "state": "open", "customer": "ACME Corp",
    "items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]
})))]
pub struct CartStatus {
    /// Where the cart stands.
    pub state: CartState,
    /// Who the cart is for.
    pub customer: String,
    /// Its lines, one per fruit, in the order each fruit was first added.
    pub items: Vec<ShoppingItem>,
}

impl CartStatus {
    /// Adds `item`: to the line of its fruit when the cart has one (amounts add), else as a new
    /// last line. The caller checks first with [`CartStatus::add_rejection`].
    pub fn add(&mut self, item: ShoppingItem) {
        match self.items.iter_mut().find(|line| line.fruit == item.fruit) {
            Some(line) => line.amount = line.amount.saturating_add(item.amount),
            None => self.items.push(item),
        }
    }

    /// Checks the cart out: `checked_out` with items, `abandoned` without.
    pub fn check_out(&mut self) {
        self.state = if self.items.is_empty() {
            CartState::Abandoned
        } else {
            CartState::CheckedOut
        };
    }

    /// The workflow's result once checked out; `order_lines` are those of the items ordered.
    pub fn outcome(&self, order_lines: Option<String>) -> CartOutcome {
        CartOutcome {
            state: self.state,
            customer: self.customer.clone(),
            items: self.items.clone(),
            order_lines,
        }
    }
}

/// What the workflow returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "state": "checked_out", "customer": "ACME Corp",
    "items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}],
    "order_lines": "Ordered 5 Apples...Ordered 3 Bananas..."
})))]
pub struct CartOutcome {
    /// `checked_out` or `abandoned`.
    pub state: CartState,
    /// Who the cart was for.
    pub customer: String,
    /// The lines checked out (empty when abandoned).
    pub items: Vec<ShoppingItem>,
    /// The order lines of a checked-out cart, e.g. `Ordered 5 Apples...`; `null` when abandoned.
    pub order_lines: Option<String>,
}

/// The cart workflow's REST declaration (`/v1/workflows/cart`).
pub fn definition() -> WorkflowDef {
    let def = WorkflowDef::new::<CartRequest, CartOutcome>(
        NAME,
        WORKFLOW_TYPE,
        WORKFLOW_ID_PREFIX,
        "A shopping cart: collects items (update `add_item`) until it is checked out (signal \
         `checkout`) or its `checkout_after` passes, then orders them. An empty cart ends \
         abandoned.",
        || serde_json::json!({"customer": "ACME Corp", "checkout_after": "1h"}),
    )
    .signal(Message::new(
        SIGNAL_CHECKOUT,
        "Checks the open cart out: its items are ordered (an empty cart ends abandoned). Takes \
         no argument. Ignored once checked out.",
    ))
    .query(
        Message::new(
            QUERY_STATUS,
            "The cart as it stands: state, customer, items.",
        )
        .output::<CartStatus>(),
    )
    .update(
        Message::new(
            UPDATE_ADD_ITEM,
            "Adds an item to the open cart (to the line of its fruit when there is one: amounts \
             add) and returns the cart. Rejected (and not recorded) once the cart is checked \
             out, or when the amount is out of range.",
        )
        .input::<ShoppingItem>()
        .output::<CartStatus>(),
    )
    .progress::<OrderProgress>();
    #[cfg(feature = "worker")]
    let def = def.implemented_by::<CartWorkflow>();
    def
}
