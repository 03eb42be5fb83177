//! The checks on every payload of the workflow, shared by the API (through [`Validate`]) and the
//! workflow code (which re-checks what clients other than the API send).

use std::time::Duration;

use super::{CartOutcome, CartRequest, CartState, CartStatus, DEFAULT_CHECKOUT_AFTER};
use crate::{
    registry::{InputIssue, Limits, Validate},
    rules::{parse_timeout, text_issue},
    shopping::{ShoppingItem, item_issues},
};

const MAX_CUSTOMER_CHARS: usize = 200;

impl CartRequest {
    /// How long the cart stays open before it checks out by itself (the default when unset).
    pub fn checkout_after(&self) -> Result<Duration, String> {
        parse_timeout(
            self.checkout_after
                .as_deref()
                .unwrap_or(DEFAULT_CHECKOUT_AFTER),
        )
    }
}

impl Validate for CartRequest {
    fn issues(&self, _: &Limits) -> Vec<InputIssue> {
        let mut issues = Vec::new();
        issues.extend(text_issue("/customer", &self.customer, MAX_CUSTOMER_CHARS));
        if let Err(detail) = self.checkout_after() {
            issues.push(InputIssue::new("/checkout_after", detail));
        }
        issues
    }
}

/// One item on its own (update `add_item`'s argument): the shopping list's rule for an item,
/// reported at the item's own fields (`/amount`).
impl Validate for ShoppingItem {
    fn issues(&self, limits: &Limits) -> Vec<InputIssue> {
        item_issues(std::slice::from_ref(self), &limits.shopping)
            .into_iter()
            .filter_map(|issue| {
                let pointer = issue.pointer.strip_prefix("/items/0")?;
                Some(InputIssue::new(pointer, issue.detail))
            })
            .collect()
    }
}

impl Validate for CartStatus {}
impl Validate for CartOutcome {}

impl CartStatus {
    /// Why update `add_item` must be rejected, or `None` to accept `item`: the workflow's update
    /// validator, so a rejected item never reaches the workflow history.
    pub fn add_rejection(&self, item: &ShoppingItem) -> Option<String> {
        if self.state != CartState::Open {
            return Some(format!(
                "the cart is already {}: items are closed",
                self.state.as_str()
            ));
        }
        if let Some(issue) = item.issues(&Limits::UNBOUNDED).into_iter().next() {
            return Some(format!("item amount {}", issue.detail));
        }
        let line = self
            .items
            .iter()
            .find(|line| line.fruit == item.fruit)
            .map_or(0, |line| line.amount);
        match line.checked_add(item.amount) {
            Some(_) => None,
            None => Some(format!(
                "the cart would hold more than {} {}",
                u32::MAX,
                item.fruit.plural()
            )),
        }
    }
}
