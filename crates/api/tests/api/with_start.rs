//! Signal-with-start and update-with-start: a start that carries a message starts the workflow
//! if none runs under its id, and delivers the message to the run either way, atomically.

use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    auth::{ADMIN, bearer, keys},
    json, problem,
    v1_support::{approval_start, post, shopping_start},
};

const CART_START: &str = "/v1/workflow-types/cart/start";

/// A start of cart `id` for ACME Corp that adds `item` with an update.
fn cart_with_item(id: &str, item: Value) -> Value {
    json!({
        "workflow_id": id,
        "input": {"customer": "ACME Corp", "checkout_after": "1h"},
        "update": {"name": "add_item", "input": item},
    })
}

#[tokio::test]
async fn a_cart_is_filled_by_update_with_start_and_checked_out_by_signal_with_start() {
    let env = TestEnv::start().await;

    // The first item starts the cart, and the answer is the update's result.
    let first = json(
        post(
            &env,
            CART_START,
            Some(&cart_with_item(
                "cart-acme-7",
                json!({"fruit": "APPLE", "amount": 2}),
            )),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["workflow_id"], "cart-acme-7", "{first}");
    assert_eq!(first["status"], "running", "{first}");
    assert_eq!(first["replayed"], false, "a new cart: {first}");
    assert_eq!(
        first["update"]["result"],
        json!({"state": "open", "customer": "ACME Corp", "items": [{"fruit": "APPLE", "amount": 2}]})
    );
    assert!(first["update"]["update_id"].is_string(), "{first}");

    // The same request shape with the next item goes to the running cart.
    let second = json(
        post(
            &env,
            CART_START,
            Some(&cart_with_item(
                "cart-acme-7",
                json!({"fruit": "BANANA", "amount": 1}),
            )),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["replayed"], true, "the running cart: {second}");
    assert_eq!(second["run_id"], first["run_id"]);
    assert_eq!(
        second["update"]["result"]["items"],
        json!([{"fruit": "APPLE", "amount": 2}, {"fruit": "BANANA", "amount": 1}])
    );

    // Checking out with signal-with-start: the same run gets the signal.
    let body = json!({
        "workflow_id": "cart-acme-7",
        "input": {"customer": "ACME Corp"},
        "signal": {"name": "checkout"},
    });
    let checkout = json(
        post(&env, &format!("{CART_START}?wait=20"), Some(&body), &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(checkout["run_id"], first["run_id"], "{checkout}");
    assert_eq!(checkout["status"], "completed", "{checkout}");
    assert_eq!(
        checkout["result"]["order_lines"],
        "Ordered 2 Apples...Ordered 1 Bananas..."
    );
}

#[tokio::test]
async fn a_signal_with_start_for_a_new_id_starts_the_workflow_with_the_signal() {
    let env = TestEnv::start().await;
    let mut body = approval_start("ACME Corp");
    body["workflow_id"] = json!("order-approved-at-start");
    body["signal"] = json!({"name": "approve", "input": {"approver": "alice"}});
    let out = json(
        post(
            &env,
            "/v1/workflow-types/order-approval/start?wait=20",
            Some(&body),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(out["replayed"], false, "{out}");
    assert_eq!(out["status"], "completed", "{out}");
    assert_eq!(out["result"]["state"], "approved", "{out}");
}

#[tokio::test]
async fn concurrent_update_with_starts_for_a_new_id_start_one_cart_and_both_items_land() {
    let env = TestEnv::start().await;
    let apple = cart_with_item("cart-race", json!({"fruit": "APPLE", "amount": 1}));
    let cherry = cart_with_item("cart-race", json!({"fruit": "CHERRY", "amount": 4}));
    let (a, b) = tokio::join!(
        post(&env, CART_START, Some(&apple), &[]),
        post(&env, CART_START, Some(&cherry), &[]),
    );
    let a = json(a, StatusCode::OK).await;
    let b = json(b, StatusCode::OK).await;
    assert_eq!(a["run_id"], b["run_id"], "one cart: {a} {b}");
    let started: Vec<bool> = [&a, &b]
        .iter()
        .map(|out| out["replayed"] == false)
        .collect();
    assert_eq!(
        started.iter().filter(|s| **s).count(),
        1,
        "one start: {a} {b}"
    );
    let status = json(
        post(&env, "/v1/workflows/cart-race/queries/status", None, &[]).await,
        StatusCode::OK,
    )
    .await;
    let mut items = status["result"]["items"].as_array().unwrap().clone();
    items.sort_by_key(|item| item["fruit"].as_str().unwrap().to_owned());
    assert_eq!(
        items,
        [
            json!({"fruit": "APPLE", "amount": 1}),
            json!({"fruit": "CHERRY", "amount": 4})
        ]
    );
}

#[tokio::test]
async fn messages_sent_with_a_start_are_checked_like_messages() {
    let env = TestEnv::builder().without_worker().start().await;
    let cases = [
        (
            json!({"input": {"customer": "A"}, "update": {"name": "remove_item"}}),
            "/update/name",
            "CartWorkflow has no update \"remove_item\" (it has: add_item)",
        ),
        (
            json!({"input": {"customer": "A"}, "update": {"name": "add_item", "input": {"fruit": "KIWI", "amount": 0}}}),
            "/update/input/fruit",
            "",
        ),
        (
            json!({"input": {"customer": "A"}, "signal": {"name": "checkout", "input": {"now": true}}}),
            "/signal/input",
            "signal checkout takes no argument",
        ),
        (
            json!({"input": {"customer": "A"}, "signal": {"name": "checkout"}, "update": {"name": "add_item"}}),
            "/update",
            "cannot be sent with a signal",
        ),
        (
            json!({"input": {"customer": "A"}, "signal": {"name": "checkout"}, "id_conflict_policy": "fail"}),
            "/id_conflict_policy",
            "use_existing",
        ),
        (
            json!({"input": {"customer": "A"}, "start_delay": "1m",
                   "update": {"name": "add_item", "input": {"fruit": "APPLE", "amount": 1}}}),
            "/start_delay",
            "cannot be combined with an update",
        ),
    ];
    for (body, pointer, words) in cases {
        let out = problem(
            post(&env, CART_START, Some(&body), &[]).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let errors = out["errors"].as_array().unwrap();
        let error = errors
            .iter()
            .find(|e| e["pointer"] == pointer)
            .unwrap_or_else(|| panic!("no error at {pointer}: {out}"));
        assert!(
            error["detail"].as_str().unwrap().contains(words),
            "{pointer}: {out}"
        );
    }
    // An Idempotency-Key cannot make a start with a message idempotent: the workflow id does.
    let body = cart_with_item("cart-keyed", json!({"fruit": "APPLE", "amount": 1}));
    let keyed = problem(
        post(&env, CART_START, Some(&body), &[("idempotency-key", "k-1")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(keyed["errors"][0]["pointer"], "/update", "{keyed}");
}

#[tokio::test]
async fn a_message_with_a_start_never_reaches_a_workflow_of_another_type() {
    let env = TestEnv::start().await;
    // A shopping order runs under the id (slow enough to be running).
    let mut order = shopping_start(&[("APPLE", 1)]);
    order["workflow_id"] = json!("shared-id-9");
    order["start_delay"] = json!("1h");
    json(
        post(&env, "/v1/workflow-types/shopping/start", Some(&order), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;

    // A cart start with a message under that id is refused, and nothing reaches the order.
    let body = json!({"workflow_id": "shared-id-9", "input": {"customer": "A"},
                      "signal": {"name": "checkout"}});
    let refused = problem(
        post(&env, CART_START, Some(&body), &[]).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(refused["code"], "workflow-already-exists", "{refused}");
    let history = json(
        env.http
            .get(env.url("/v1/workflows/shared-id-9/events"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let text = history.to_string();
    assert!(!text.contains("signal_received"), "{text}");
}

#[tokio::test]
async fn a_message_with_a_start_needs_the_permission_to_send_it() {
    let env = TestEnv::builder()
        .settings(|s| {
            keys(
                s,
                &[
                    ("admin", ADMIN, &["*:*"]),
                    (
                        "starter",
                        "cart-starter-key-1",
                        &["start:cart", "read:cart"],
                    ),
                ],
            );
        })
        .start()
        .await;
    let body = cart_with_item("cart-no-message", json!({"fruit": "APPLE", "amount": 1}));
    let refused = problem(
        post(
            &env,
            CART_START,
            Some(&body),
            &[("authorization", &bearer("cart-starter-key-1"))],
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    // Nothing was started.
    let missing = env
        .http
        .get(env.url("/v1/workflows/cart-no-message"))
        .header("authorization", bearer(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
