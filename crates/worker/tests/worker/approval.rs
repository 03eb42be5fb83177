//! The order-approval workflow on the real worker: its signals, query and update sent by name
//! with `json/plain` payloads (exactly as the API sends them) and through the typed SDK client.

mod client;

use std::time::Duration;

use client::{
    add_note, events, first_status, json_payload, outcome, refusal, result, signal, start, status,
    status_with,
};
use flowgate_testkit::{TestEnv, eventually};
use flowgate_workflows::approval::{
    ApprovalState, INVALID_APPROVAL_REQUEST, OrderApprovalWorkflow,
};
use serde_json::{Value, json};
use temporalio_client::{
    UntypedWorkflow, WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions,
    errors::WorkflowGetResultError,
};
use temporalio_common::{error::IncomingError, protos::temporal::api::enums::v1::EventType};

#[tokio::test]
async fn messages_sent_by_name_with_json_payloads_drive_an_order_to_approval() {
    let env = TestEnv::builder().without_api().start().await;
    let client = env.temporal_client().await;
    let input = json!({"customer": "ACME Corp", "items": [{"fruit": "APPLE", "amount": 5}],
                       "approval_timeout": "1h"});
    let order = start(&env, &client, "order-approval-untyped", input).await;

    let first = first_status(&order).await;
    assert_eq!(
        first,
        json!({"state": "pending", "customer": "ACME Corp",
               "items": [{"fruit": "APPLE", "amount": 5}], "notes": [],
               "decided_by": null, "reason": null})
    );
    // A query without argument may also carry a JSON `null`.
    assert_eq!(
        status_with(&order, json_payload(&Value::Null)).await,
        Ok(first)
    );

    // Malformed decisions are ignored; the workflow keeps serving (its task did not fail).
    signal(&order, "approve", json!({"approver": "  "})).await;
    signal(&order, "reject", json!({"who": "mallory"})).await;
    assert_eq!(
        add_note(&order, "deliver on Monday").await.unwrap(),
        json!(1)
    );
    let blank = refusal(add_note(&order, "").await);
    assert!(blank.contains("must not be blank"), "{blank}");
    let now = status(&order).await;
    assert_eq!(now["state"], "pending", "{now}");
    assert_eq!(now["notes"], json!(["deliver on Monday"]));

    signal(&order, "approve", json!({"approver": "alice"})).await;
    assert_eq!(
        result(&order).await,
        json!({"state": "approved", "order_lines": "Ordered 5 Apples...",
               "decided_by": "alice", "reason": null, "notes": ["deliver on Monday"]})
    );
    // Only the accepted note reached the history; the refused one left no trace.
    assert_eq!(
        events(&order, EventType::WorkflowExecutionUpdateAccepted).await,
        1
    );
    assert_eq!(
        events(&order, EventType::WorkflowExecutionUpdateCompleted).await,
        1
    );
    assert_eq!(
        events(&order, EventType::WorkflowExecutionUpdateRejected).await,
        0
    );
    assert_eq!(events(&order, EventType::ActivityTaskCompleted).await, 1);
}

#[tokio::test]
async fn a_rejected_order_orders_nothing_and_returns_the_reason() {
    let env = TestEnv::builder().without_api().start().await;
    let client = env.temporal_client().await;
    // The typed SDK client speaks to the same handlers.
    let order = client
        .start_workflow(
            OrderApprovalWorkflow::run,
            json!({"customer": "ACME Corp", "items": [{"fruit": "BANANA", "amount": 3}]}),
            WorkflowStartOptions::new(&env.settings.worker.task_queue, "order-approval-reject")
                .build(),
        )
        .await
        .expect("workflow starts");
    order
        .signal(
            OrderApprovalWorkflow::reject,
            json!({"approver": "bob", "reason": "over budget"}),
            WorkflowSignalOptions::default(),
        )
        .await
        .expect("signal delivered");
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        order.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("the workflow completes within 30 s")
    .expect("the workflow succeeds");
    assert_eq!(outcome.state, ApprovalState::Rejected);
    assert_eq!(outcome.order_lines, None);
    assert_eq!(outcome.decided_by.as_deref(), Some("bob"));
    assert_eq!(outcome.reason.as_deref(), Some("over budget"));
    let untyped = client.get_workflow_handle::<UntypedWorkflow>("order-approval-reject");
    assert_eq!(events(&untyped, EventType::ActivityTaskScheduled).await, 0);
}

#[tokio::test]
async fn an_order_nobody_decides_expires_after_its_approval_timeout() {
    let env = TestEnv::builder().without_api().start().await;
    let client = env.temporal_client().await;
    let input = json!({"customer": "ACME Corp", "items": [{"fruit": "CHERRY", "amount": 1}],
                       "approval_timeout": "1s"});
    let order = start(&env, &client, "order-approval-expiry", input).await;
    assert_eq!(
        result(&order).await,
        json!({"state": "expired", "order_lines": null, "decided_by": null,
               "reason": "no decision within 1s", "notes": []})
    );
    assert_eq!(events(&order, EventType::TimerFired).await, 1);
    assert_eq!(events(&order, EventType::ActivityTaskScheduled).await, 0);
}

#[tokio::test]
async fn the_first_decision_wins_and_notes_close_once_decided() {
    // Slow orders keep the approved workflow open while the late messages arrive.
    let env = TestEnv::builder()
        .without_api()
        .settings(|s| s.shopping.order_delay = Duration::from_secs(5))
        .start()
        .await;
    let client = env.temporal_client().await;
    let input = json!({"customer": "ACME Corp", "items": [{"fruit": "ORANGE", "amount": 2}]});
    let order = start(&env, &client, "order-approval-late", input).await;
    first_status(&order).await;

    signal(&order, "approve", json!({"approver": "alice"})).await;
    signal(
        &order,
        "reject",
        json!({"approver": "bob", "reason": "too late"}),
    )
    .await;
    let decided = eventually(Duration::from_secs(5), "the approval", || async {
        let now = status(&order).await;
        (now["state"] == "approved").then_some(now)
    })
    .await;
    assert_eq!(decided["decided_by"], "alice", "{decided}");
    let late = refusal(add_note(&order, "one more thing").await);
    assert!(late.contains("already approved"), "{late}");

    let outcome = result(&order).await;
    assert_eq!(outcome["state"], "approved", "{outcome}");
    assert_eq!(outcome["decided_by"], "alice");
    assert_eq!(outcome["reason"], Value::Null);
    assert_eq!(outcome["order_lines"], "Ordered 2 Oranges...");
    assert_eq!(outcome["notes"], json!([]));
    assert_eq!(
        events(&order, EventType::WorkflowExecutionUpdateAccepted).await,
        0
    );
}

#[tokio::test]
async fn a_malformed_request_fails_at_once_without_retrying() {
    let env = TestEnv::builder().without_api().start().await;
    let client = env.temporal_client().await;
    // What a client bypassing the API's validation might send.
    let input = json!({"customer": "ACME Corp", "items": [{"fruit": "APPLE", "amount": 1}],
                       "approval_timeout": "forever"});
    let order = start(&env, &client, "order-approval-malformed", input).await;
    let Err(WorkflowGetResultError::Failed(error)) = outcome(&order).await else {
        panic!("the workflow fails");
    };
    let failure = match *error {
        IncomingError::Application(failure) => failure,
        other => panic!("an application failure, got {other:?}"),
    };
    assert_eq!(failure.type_name(), Some(INVALID_APPROVAL_REQUEST));
    assert!(failure.is_non_retryable());
    let message = failure.to_string();
    assert!(message.contains("/approval_timeout"), "{message}");
    assert_eq!(events(&order, EventType::TimerStarted).await, 0);
}
