//! The cart workflow over `/v1`: items added by update, read by query, checked out by signal or
//! by its timer.

use std::time::Duration;

use flowgate_testkit::{TestEnv, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    json, problem,
    v1_support::{post, status_of},
};

/// Starts a cart for ACME Corp that checks out by itself after `checkout_after`; returns its id.
async fn start_cart(env: &TestEnv, checkout_after: &str) -> String {
    let body = json!({"input": {"customer": "ACME Corp", "checkout_after": checkout_after}});
    let out = json(
        post(env, "/v1/workflows/cart", Some(&body), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(out["status"], "running", "{out}");
    let id = out["workflow_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cart-"), "{out}");
    id
}

/// Update `add_item` with `item`, unchecked.
async fn add_item(env: &TestEnv, id: &str, item: &Value) -> reqwest::Response {
    let path = format!("/v1/workflows/{id}/updates/add_item");
    post(env, &path, Some(item), &[]).await
}

#[tokio::test]
async fn a_cart_collects_items_and_orders_them_at_checkout() {
    let env = TestEnv::start().await;
    let id = start_cart(&env, "1h").await;

    let added = json(
        add_item(&env, &id, &json!({"fruit": "APPLE", "amount": 2})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(added["action"], "updated", "{added}");
    // Even an item that arrives with the start sees the cart's customer.
    assert_eq!(added["result"]["customer"], "ACME Corp", "{added}");
    assert_eq!(
        added["result"]["items"],
        json!([{"fruit": "APPLE", "amount": 2}])
    );
    let added = json(
        add_item(&env, &id, &json!({"fruit": "BANANA", "amount": 3})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        added["result"]["items"],
        json!([{"fruit": "APPLE", "amount": 2}, {"fruit": "BANANA", "amount": 3}])
    );
    // The same fruit again adds to its line.
    let added = json(
        add_item(&env, &id, &json!({"fruit": "APPLE", "amount": 1})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(added["result"]["items"][0]["amount"], 3, "{added}");

    // An amount out of range never reaches the workflow.
    let invalid = problem(
        add_item(&env, &id, &json!({"fruit": "CHERRY", "amount": 0})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(invalid["code"], "validation-failed", "{invalid}");
    assert_eq!(invalid["errors"][0]["pointer"], "/amount", "{invalid}");

    assert_eq!(
        status_of(&env, &id).await,
        json!({"state": "open", "customer": "ACME Corp",
               "items": [{"fruit": "APPLE", "amount": 3}, {"fruit": "BANANA", "amount": 3}]})
    );

    let signaled = json(
        post(
            &env,
            &format!("/v1/workflows/{id}/signals/checkout"),
            None,
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(signaled["action"], "signaled", "{signaled}");

    let result = json(
        env.get(&format!("/v1/workflows/{id}/result?wait=10")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(
        result["result"],
        json!({"state": "checked_out", "customer": "ACME Corp",
               "items": [{"fruit": "APPLE", "amount": 3}, {"fruit": "BANANA", "amount": 3}],
               "order_lines": "Ordered 3 Apples...Ordered 3 Bananas..."})
    );
}

#[tokio::test]
async fn an_item_added_after_checkout_is_a_422_with_the_workflow_s_message() {
    // Ordering takes long, so the checked-out cart stays running with its items closed.
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = Duration::from_secs(30))
        .start()
        .await;
    let id = start_cart(&env, "1h").await;
    json(
        add_item(&env, &id, &json!({"fruit": "ORANGE", "amount": 4})).await,
        StatusCode::OK,
    )
    .await;
    let checkout = format!("/v1/workflows/{id}/signals/checkout");
    json(post(&env, &checkout, None, &[]).await, StatusCode::ACCEPTED).await;
    eventually(
        Duration::from_secs(10),
        "the checkout to be recorded",
        || async { (status_of(&env, &id).await["state"] == "checked_out").then_some(()) },
    )
    .await;

    let late = problem(
        add_item(&env, &id, &json!({"fruit": "APPLE", "amount": 1})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(late["code"], "update-rejected", "{late}");
    assert!(
        late["detail"]
            .as_str()
            .unwrap()
            .contains("the cart is already checked_out: items are closed"),
        "{late}"
    );
    assert_eq!(
        status_of(&env, &id).await["items"],
        json!([{"fruit": "ORANGE", "amount": 4}])
    );
}

#[tokio::test]
async fn an_empty_cart_is_abandoned_when_its_timer_fires() {
    let env = TestEnv::start().await;
    let id = start_cart(&env, "1s").await;
    let result = json(
        env.get(&format!("/v1/workflows/{id}/result?wait=10")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(
        result["result"],
        json!({"state": "abandoned", "customer": "ACME Corp", "items": [], "order_lines": null})
    );
}
