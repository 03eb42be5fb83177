use serde_json::{Value, json};

use super::*;
use crate::{
    registry::{InputIssue, Limits, Validate, registry},
    shopping::{Fruit, ShoppingLimits},
};

fn request(body: Value) -> CartRequest {
    serde_json::from_value(body).expect("well-formed request")
}

fn pointers(issues: &[InputIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.pointer.as_str()).collect()
}

fn item(fruit: Fruit, amount: u32) -> ShoppingItem {
    ShoppingItem { fruit, amount }
}

fn open_cart(items: &[(Fruit, u32)]) -> CartStatus {
    let mut cart = CartStatus {
        customer: "ACME Corp".into(),
        ..CartStatus::default()
    };
    for &(fruit, amount) in items {
        cart.add(item(fruit, amount));
    }
    cart
}

#[test]
fn a_request_without_checkout_after_is_valid_and_stays_open_an_hour() {
    let request = request(json!({"customer": "ACME Corp"}));
    assert!(request.issues(&Limits::default()).is_empty());
    assert_eq!(
        request.checkout_after(),
        Ok(std::time::Duration::from_secs(3600))
    );
}

#[test]
fn checkout_after_takes_human_durations_from_one_second_to_thirty_days() {
    for (text, seconds) in [
        ("1s", 1),
        ("15m", 900),
        ("1h 30m", 5400),
        ("30d", 2_592_000),
    ] {
        let request = request(json!({"customer": "c", "checkout_after": text}));
        assert!(request.issues(&Limits::default()).is_empty(), "{text}");
        assert_eq!(
            request.checkout_after().unwrap().as_secs(),
            seconds,
            "{text}"
        );
    }
    for (text, detail) in [
        ("0s", "at least 1 second"),
        ("31d", "at most 30 days"),
        ("later", "must be a number of seconds (30) or a duration"),
    ] {
        let issues =
            request(json!({"customer": "c", "checkout_after": text})).issues(&Limits::default());
        assert_eq!(pointers(&issues), ["/checkout_after"], "{text}");
        assert!(
            issues[0].detail.contains(detail),
            "{text}: {}",
            issues[0].detail
        );
    }
}

#[test]
fn blank_or_long_customers_are_reported_at_customer() {
    let issues =
        request(json!({"customer": " ", "checkout_after": "soon"})).issues(&Limits::default());
    assert_eq!(pointers(&issues), ["/customer", "/checkout_after"]);
    let issues = request(json!({"customer": "x".repeat(201)})).issues(&Limits::default());
    assert_eq!(pointers(&issues), ["/customer"]);
    assert!(issues[0].detail.contains("200 characters"));
}

#[test]
fn an_item_s_amount_is_checked_at_amount_against_the_limits() {
    let limits = Limits {
        shopping: ShoppingLimits {
            max_items: 1,
            max_amount: 10,
        },
    };
    assert!(item(Fruit::Apple, 10).issues(&limits).is_empty());
    for amount in [0, 11] {
        let issues = item(Fruit::Apple, amount).issues(&limits);
        assert_eq!(pointers(&issues), ["/amount"], "{amount}");
    }
    assert_eq!(
        item(Fruit::Apple, 0).issues(&limits)[0].detail,
        "must be at least 1, got 0"
    );
    // Workflow code knows no configured limit.
    assert!(
        item(Fruit::Apple, u32::MAX)
            .issues(&Limits::UNBOUNDED)
            .is_empty()
    );
}

#[test]
fn the_same_fruit_adds_to_its_line_and_lines_keep_their_first_order() {
    let cart = open_cart(&[(Fruit::Banana, 3), (Fruit::Apple, 5), (Fruit::Banana, 2)]);
    assert_eq!(cart.items, [item(Fruit::Banana, 5), item(Fruit::Apple, 5)]);
}

#[test]
fn items_are_refused_once_checked_out_or_when_malformed_or_overflowing() {
    let mut cart = open_cart(&[(Fruit::Apple, u32::MAX - 1)]);
    assert_eq!(cart.add_rejection(&item(Fruit::Apple, 1)), None);
    assert_eq!(cart.add_rejection(&item(Fruit::Cherry, 1)), None);
    assert_eq!(
        cart.add_rejection(&item(Fruit::Cherry, 0)).as_deref(),
        Some("item amount must be at least 1, got 0")
    );
    let overflow = cart.add_rejection(&item(Fruit::Apple, 2)).unwrap();
    assert!(
        overflow.contains("more than 4294967295 Apples"),
        "{overflow}"
    );

    cart.check_out();
    assert_eq!(cart.state, CartState::CheckedOut);
    assert_eq!(
        cart.add_rejection(&item(Fruit::Cherry, 1)).as_deref(),
        Some("the cart is already checked_out: items are closed")
    );
}

#[test]
fn an_empty_cart_checks_out_as_abandoned() {
    let mut cart = open_cart(&[]);
    cart.check_out();
    assert_eq!(cart.state, CartState::Abandoned);
    let refusal = cart.add_rejection(&item(Fruit::Apple, 1)).unwrap();
    assert!(refusal.contains("abandoned"), "{refusal}");
    assert_eq!(
        serde_json::to_value(cart.outcome(None)).unwrap(),
        json!({"state": "abandoned", "customer": "ACME Corp", "items": [], "order_lines": null})
    );
}

#[test]
fn outcomes_and_states_use_the_documented_wire_format() {
    let mut cart = open_cart(&[(Fruit::Apple, 5)]);
    cart.check_out();
    assert_eq!(
        serde_json::to_value(cart.outcome(Some("Ordered 5 Apples...".into()))).unwrap(),
        json!({
            "state": "checked_out", "customer": "ACME Corp",
            "items": [{"fruit": "APPLE", "amount": 5}], "order_lines": "Ordered 5 Apples..."
        })
    );
    for state in [CartState::Open, CartState::CheckedOut, CartState::Abandoned] {
        assert_eq!(serde_json::to_value(state).unwrap(), json!(state.as_str()));
    }
}

#[test]
fn the_cart_is_registered_with_exactly_its_signal_query_and_update() {
    let def = registry().get("cart").expect("registered");
    assert_eq!(registry().get("CartWorkflow").map(|d| d.name), Some("cart"));
    assert_eq!(def.temporal_type, "CartWorkflow");
    assert_eq!(def.id_prefix, "cart-");
    assert_eq!(def.task_queue, crate::registry::TaskQueue::Worker);
    let names = |messages: &[crate::registry::Message]| -> Vec<&str> {
        messages.iter().map(|m| m.name).collect()
    };
    assert_eq!(names(&def.signals), ["checkout"]);
    assert_eq!(names(&def.queries), ["status"]);
    assert_eq!(names(&def.updates), ["add_item"]);
    assert!(def.signals[0].input.is_none() && def.signals[0].output.is_none());
    assert!(def.queries[0].input.is_none());

    let limits = Limits::default();
    let example = (def.example)();
    assert_eq!(def.input.decode(&example, &limits).as_ref(), Ok(&example));
    let issues = def
        .input
        .decode(&json!({"customer": "c", "items": []}), &limits)
        .unwrap_err();
    assert_eq!(pointers(&issues), ["/items"], "unknown fields are refused");

    let add_item = def.updates[0].input.expect("add_item takes an item");
    let apples = json!({"fruit": "APPLE", "amount": 5});
    assert_eq!(add_item.decode(&apples, &limits), Ok(apples));
    for (body, pointer) in [
        (json!({"fruit": "APPLE", "amount": 0}), "/amount"),
        (json!({"fruit": "APPLE", "amount": 10_001}), "/amount"),
        (json!({"fruit": "APPLE", "amount": -1}), "/amount"),
        (json!({"fruit": "KIWI", "amount": 1}), "/fruit"),
        (json!({"fruit": "APPLE"}), "/amount"),
    ] {
        let issues = add_item.decode(&body, &limits).unwrap_err();
        assert_eq!(pointers(&issues), [pointer], "{body}");
    }

    let open = serde_json::to_value(open_cart(&[(Fruit::Apple, 5)])).unwrap();
    for output in [def.queries[0].output, def.updates[0].output] {
        let output = output.expect("returns the cart");
        assert_eq!(output.decode(&open, &limits).as_ref(), Ok(&open));
    }
}

#[cfg(feature = "openapi")]
#[test]
fn the_schemas_document_fields_and_carry_valid_examples() {
    let def = definition();
    assert_eq!(def.input.schema_name(), "CartRequest");
    assert_eq!(def.output.schema_name(), "CartOutcome");
    let schema = serde_json::to_value(def.input.schema()).unwrap();
    let after = &schema["properties"]["checkout_after"]["oneOf"][1];
    assert!(
        after["description"].as_str().unwrap().contains("30 days"),
        "{after}"
    );
    assert_eq!(schema["required"], json!(["customer"]), "{schema}");
    let example = schema["example"].clone();
    assert_eq!(
        def.input.decode(&example, &Limits::default()).as_ref(),
        Ok(&example)
    );
    let add_item = def.updates[0].input.unwrap();
    assert_eq!(add_item.schema_name(), "ShoppingItem");
    for output in [def.output, def.queries[0].output.unwrap()] {
        let example = serde_json::to_value(output.schema()).unwrap()["example"].clone();
        assert!(
            output.decode(&example, &Limits::default()).is_ok(),
            "{example}"
        );
    }
}
