//! Signals, queries and updates by id, checked against the registry (the order-approval
//! workflow).

use std::time::Duration;

use flowgate_testkit::{TestEnv, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    json, problem,
    v1_support::{post, start_pending_order, status_of},
};

#[tokio::test]
async fn an_order_is_queried_noted_approved_and_completes() {
    let env = TestEnv::start().await;
    let id = start_pending_order(&env, "order-a").await;
    let status = status_of(&env, &id).await;
    assert_eq!(status["state"], "pending");
    assert_eq!(status["customer"], "ACME Corp");

    let note = json!({"text": "deliver on Monday"});
    let key = [("idempotency-key", "note-1")];
    let noted = json(
        post(
            &env,
            "/v1/workflows/order-a/updates/add_note",
            Some(&note),
            &key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(noted["result"], 1, "{noted}");
    assert_eq!(noted["action"], "updated");
    // The same key is the same update: its result again, not a second note.
    let again = json(
        post(
            &env,
            "/v1/workflows/order-a/updates/add_note",
            Some(&note),
            &key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["result"], 1, "{again}");
    assert_eq!(again["update_id"], noted["update_id"]);
    let other = json(
        post(
            &env,
            "/v1/workflows/order-a/updates/add_note",
            Some(&json!({"text": "gate 4"})),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(other["result"], 2, "{other}");
    assert_eq!(
        status_of(&env, &id).await["notes"],
        json!(["deliver on Monday", "gate 4"])
    );

    let signaled = post(
        &env,
        "/v1/workflows/order-a/signals/approve",
        Some(&json!({"approver": "alice"})),
        &[],
    )
    .await;
    let signaled = json(signaled, StatusCode::ACCEPTED).await;
    assert_eq!(signaled["action"], "signaled");
    assert_eq!(signaled["workflow_id"], "order-a");

    let result = json(
        env.get("/v1/workflows/order-a/result?wait=10").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(result["result"]["state"], "approved");
    assert_eq!(result["result"]["decided_by"], "alice");
    assert_eq!(
        result["result"]["order_lines"],
        "Ordered 2 Apples...Ordered 1 Cherries..."
    );
    assert_eq!(
        result["result"]["notes"],
        json!(["deliver on Monday", "gate 4"])
    );
}

#[tokio::test]
async fn an_update_the_workflow_rejects_is_a_422_with_its_message() {
    // Ordering takes long, so the approved order stays running with its notes closed.
    let env = TestEnv::builder()
        .settings(|s| s.shopping.order_delay = Duration::from_secs(30))
        .start()
        .await;
    let id = start_pending_order(&env, "order-b").await;
    json(
        post(
            &env,
            "/v1/workflows/order-b/signals/approve",
            Some(&json!({"approver": "bob"})),
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the approval to be recorded",
        || async { (status_of(&env, &id).await["state"] == "approved").then_some(()) },
    )
    .await;
    let response = post(
        &env,
        "/v1/workflows/order-b/updates/add_note",
        Some(&json!({"text": "late"})),
        &[],
    )
    .await;
    let out = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(out["code"], "update-rejected");
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .contains("the order is already approved: notes are closed"),
        "{out}"
    );
}

#[tokio::test]
async fn arguments_and_names_are_checked_against_the_registry() {
    let env = TestEnv::start().await;
    start_pending_order(&env, "order-c").await;
    let send = |path: &'static str, body: Option<Value>| {
        let env = &env;
        async move {
            post(
                env,
                &format!("/v1/workflows/order-c/{path}"),
                body.as_ref(),
                &[],
            )
            .await
        }
    };
    let blank = problem(
        send("signals/approve", Some(json!({"approver": " "}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(blank["errors"][0]["pointer"], "/approver", "{blank}");
    let missing = problem(
        send("signals/reject", Some(json!({"approver": "x"}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(missing["errors"][0]["pointer"], "/reason", "{missing}");
    let none = problem(
        send("signals/approve", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(none["code"], "validation-failed", "{none}");
    let extra = problem(
        send("queries/status", Some(json!({"verbose": true}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        extra["detail"]
            .as_str()
            .unwrap()
            .contains("takes no argument"),
        "{extra}"
    );

    let unknown = problem(
        send("signals/escalate", Some(json!({}))).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(unknown["code"], "message-not-found");
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap()
            .contains("approve, reject"),
        "{unknown}"
    );
    problem(
        send("updates/approve", Some(json!({"approver": "a"}))).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(send("queries/notes", None).await, StatusCode::NOT_FOUND).await;
    problem(
        post(
            &env,
            "/v1/workflows/no-such-order/signals/approve",
            Some(&json!({"approver": "a"})),
            &[],
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let text = env
        .http
        .post(env.url("/v1/workflows/order-c/signals/approve"))
        .header("content-type", "text/plain")
        .body("alice")
        .send()
        .await
        .unwrap();
    problem(text, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let broken = env
        .http
        .post(env.url("/v1/workflows/order-c/signals/approve"))
        .header("content-type", "application/json")
        .body("{\"approver\":")
        .send()
        .await
        .unwrap();
    problem(broken, StatusCode::BAD_REQUEST).await;
    // Nothing invalid reached the workflow.
    assert_eq!(status_of(&env, "order-c").await["state"], "pending");
}
