//! Cancel and terminate, and what an ended workflow still answers.

use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::json;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::{
    json, problem,
    v1_support::{history, post, start_pending_order, status_of},
};

#[tokio::test]
async fn an_ended_workflow_takes_no_messages_but_answers_queries() {
    let env = TestEnv::start().await;
    start_pending_order(&env, "order-d").await;
    let reject = json!({"approver": "carol", "reason": "over budget"});
    json(
        post(
            &env,
            "/v1/workflows/order-d/signals/reject",
            Some(&reject),
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let result = json(
        env.get("/v1/workflows/order-d/result?wait=10").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["result"]["state"], "rejected", "{result}");

    for (path, body) in [
        ("signals/approve", Some(json!({"approver": "a"}))),
        ("updates/add_note", Some(json!({"text": "t"}))),
        ("cancel", None),
        ("terminate", None),
    ] {
        let response = post(
            &env,
            &format!("/v1/workflows/order-d/{path}"),
            body.as_ref(),
            &[],
        )
        .await;
        assert_eq!(
            problem(response, StatusCode::CONFLICT).await["code"],
            "workflow-not-running",
            "{path}"
        );
    }
    assert_eq!(status_of(&env, "order-d").await["reason"], "over budget");
}

#[tokio::test]
async fn cancel_ends_as_canceled_and_terminate_records_its_reason() {
    let env = TestEnv::start().await;
    start_pending_order(&env, "order-e").await;
    let canceled = json(
        post(
            &env,
            "/v1/workflows/order-e/cancel",
            Some(&json!({"reason": "customer left"})),
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(canceled["action"], "cancel_requested");
    let result = json(
        env.get("/v1/workflows/order-e/result?wait=10").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "canceled", "{result}");
    // The reason given to cancel is in the result's error, on /v1 and on the guide's route.
    assert_eq!(
        result["error"]["message"], "the workflow was canceled: customer left",
        "{result}"
    );
    let guide = json(env.get("/workflows/order-e/result").await, StatusCode::OK).await;
    assert_eq!(guide["error"], result["error"], "{guide}");

    start_pending_order(&env, "order-f").await;
    let terminated = json(
        post(
            &env,
            "/v1/workflows/order-f/terminate",
            Some(&json!({"reason": "duplicate order"})),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(terminated["action"], "terminated");
    let described = json(env.get("/v1/workflows/order-f").await, StatusCode::OK).await;
    assert_eq!(described["status"], "terminated");
    let events = history(&env, "order-f").await;
    let reason = events.iter().find_map(|a| match a {
        Attributes::WorkflowExecutionTerminatedEventAttributes(t) => Some(t.reason.clone()),
        _ => None,
    });
    assert_eq!(reason.as_deref(), Some("duplicate order"));
    let result = json(
        env.get("/v1/workflows/order-f/result").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "terminated", "{result}");
    assert_eq!(result["error"]["type"], "TerminatedFailure", "{result}");
    assert_eq!(
        result["error"]["message"], "the workflow was terminated: duplicate order",
        "{result}"
    );
    let bad = problem(
        post(
            &env,
            "/v1/workflows/order-f/terminate",
            Some(&json!({"why": 1})),
            &[],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["code"], "validation-failed");
}
