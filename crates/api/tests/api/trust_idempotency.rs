//! Idempotency keys belong to the principal that sends them: the same key from two principals
//! is two independent requests that learn nothing of each other; a key never chooses between
//! workflow ids; a keyed message with another argument is never taken for a retry.

use flowgate_config::Settings;
use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::json;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::{
    auth::{ADMIN, bearer, keys},
    json, problem,
    v1_support::{approval_start, get, post, shopping_start, status_of},
};

const TENANT_A: &str = "tenant-a-key-1f2e";
const TENANT_B: &str = "tenant-b-key-8c7d";

fn with_tenants(s: &mut Settings) {
    keys(
        s,
        &[
            ("admin", ADMIN, &["*:*"]),
            ("tenant-a", TENANT_A, &["*:*"]),
            ("tenant-b", TENANT_B, &["*:*"]),
        ],
    );
}

#[tokio::test]
async fn the_same_key_from_two_principals_is_two_runs_and_leaks_nothing() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_tenants)
        .start()
        .await;
    let (a, b) = (bearer(TENANT_A), bearer(TENANT_B));
    let body = shopping_start(&[("APPLE", 5)]);
    let keyed = |auth: &str| {
        [
            ("authorization", auth.to_owned()),
            ("idempotency-key", "order-1".to_owned()),
        ]
    };
    let send = |auth: String, body: serde_json::Value| {
        let env = &env;
        async move {
            let headers = keyed(&auth);
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(env, "/v1/workflows/shopping", Some(&body), &headers).await
        }
    };

    let first_a = json(send(a.clone(), body.clone()).await, StatusCode::ACCEPTED).await;
    let first_b = json(send(b.clone(), body.clone()).await, StatusCode::ACCEPTED).await;
    assert_eq!(first_a["replayed"], false);
    assert_eq!(first_b["replayed"], false, "not tenant A's run: {first_b}");
    assert_ne!(first_a["workflow_id"], first_b["workflow_id"]);
    assert_ne!(first_a["run_id"], first_b["run_id"]);

    // Tenant B with another body under the same key: its own key's misuse, never A's id.
    let other = shopping_start(&[("CHERRY", 9)]);
    let misuse = send(b.clone(), other).await;
    let misuse = problem(misuse, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(misuse["code"], "idempotency-key-reused");
    assert!(
        !misuse
            .to_string()
            .contains(first_a["workflow_id"].as_str().unwrap()),
        "{misuse}"
    );
    // Each tenant's retry finds its own run.
    let retry_a = json(send(a, body).await, StatusCode::ACCEPTED).await;
    assert_eq!(retry_a["run_id"], first_a["run_id"]);
    assert_eq!(retry_a["replayed"], true);
}

#[tokio::test]
async fn a_key_with_a_chosen_workflow_id_is_a_422_and_starts_nothing() {
    let env = TestEnv::builder().without_worker().start().await;
    let key = [("idempotency-key", "order-2")];
    let body = shopping_start(&[("APPLE", 1)]);
    let first = json(
        post(&env, "/v1/workflows/shopping", Some(&body), &key).await,
        StatusCode::ACCEPTED,
    )
    .await;
    for id in ["explicit-a", "explicit-b"] {
        let mut with_id = body.clone();
        with_id["workflow_id"] = json!(id);
        let refused = problem(
            post(&env, "/v1/workflows/shopping", Some(&with_id), &key).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["errors"][0]["pointer"], "/workflow_id", "{refused}");
        problem(
            get(&env, &format!("/v1/workflows/{id}"), &[]).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    let retry = json(
        post(&env, "/v1/workflows/shopping", Some(&body), &key).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(
        retry["run_id"], first["run_id"],
        "still one run for the key"
    );
}

#[tokio::test]
async fn a_message_key_reused_with_another_argument_is_a_422_and_applies_nothing() {
    let env = TestEnv::start().await;
    let mut order = approval_start("ACME Corp");
    order["workflow_id"] = json!("order-keyed");
    json(
        post(&env, "/v1/workflows/order-approval", Some(&order), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let key = [("idempotency-key", "note-1")];
    let path = "/v1/workflows/order-keyed/updates/add_note";
    let note = |text: &str| json!({ "text": text });
    let first = json(
        post(&env, path, Some(&note("deliver on Monday")), &key).await,
        StatusCode::OK,
    )
    .await;
    let retry = json(
        post(&env, path, Some(&note("deliver on Monday")), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        retry["update_id"], first["update_id"],
        "a retry is the same update"
    );
    assert_eq!(retry["result"], 1);

    let misuse = problem(
        post(&env, path, Some(&note("gate 4")), &key).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(misuse["code"], "idempotency-key-reused", "{misuse}");
    assert_eq!(
        status_of(&env, "order-keyed").await["notes"],
        json!(["deliver on Monday"]),
        "applied once, the misuse not at all"
    );
}

#[tokio::test]
async fn a_signal_key_reused_with_another_argument_or_signal_is_a_422() {
    // No worker: the order stays pending, and its history shows exactly what was signaled.
    let env = TestEnv::builder().without_worker().start().await;
    let id = crate::v1_support::start_pending_order(&env, "order-signals").await;
    let key = [("idempotency-key", "decision-1")];
    let signal = |name: &str| format!("/v1/workflows/{id}/signals/{name}");
    for _ in 0..2 {
        json(
            post(
                &env,
                &signal("approve"),
                Some(&json!({"approver": "alice"})),
                &key,
            )
            .await,
            StatusCode::ACCEPTED,
        )
        .await;
    }
    for (name, argument) in [
        ("approve", json!({"approver": "mallory"})),
        (
            "reject",
            json!({"approver": "alice", "reason": "changed my mind"}),
        ),
    ] {
        let misuse = problem(
            post(&env, &signal(name), Some(&argument), &key).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(misuse["code"], "idempotency-key-reused", "{name}: {misuse}");
    }
    let signaled = crate::v1_support::history(&env, &id)
        .await
        .into_iter()
        .filter(|event| {
            matches!(
                event,
                Attributes::WorkflowExecutionSignaledEventAttributes(_)
            )
        })
        .count();
    assert_eq!(signaled, 1, "a retry is deduplicated, a misuse never sent");
}
