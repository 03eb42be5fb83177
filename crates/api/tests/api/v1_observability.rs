//! `/v1` requests in the metrics: route templates (never workflow ids) and every Temporal
//! operation by name.

use flowgate_testkit::{
    TestEnv,
    metrics::{Scrape, scrape},
};
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    json, problem,
    v1_support::{post, start_pending_order},
};

#[tokio::test]
async fn v1_routes_and_temporal_operations_are_measured_without_ids() {
    let env = TestEnv::start().await;
    start_pending_order(&env, "metrics-order-9f2").await;
    let id = "metrics-order-9f2";
    json(
        post(
            &env,
            &format!("/v1/workflows/{id}/queries/status"),
            None,
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    json(
        post(
            &env,
            &format!("/v1/workflows/{id}/updates/add_note"),
            Some(&json!({"text": "n"})),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    json(
        post(
            &env,
            &format!("/v1/workflows/{id}/signals/approve"),
            Some(&json!({"approver": "a"})),
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    json(
        env.get(&format!("/v1/workflows/{id}/result?wait=10")).await,
        StatusCode::OK,
    )
    .await;
    json(env.get("/v1/workflows?page_size=5").await, StatusCode::OK).await;
    problem(
        post(&env, "/v1/workflows/metrics-missing-7c1/cancel", None, &[]).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let scrape: Scrape = scrape(&env.http, &env.api_admin_url("/metrics")).await;
    let requests = |method: &str, route: &str, status: &str| {
        scrape.value(
            "http_server_request_duration_seconds_count",
            &[
                ("http_request_method", method),
                ("http_route", route),
                ("http_response_status_code", status),
            ],
        )
    };
    // A start is labelled as a start, never as the describe route's template.
    assert_eq!(
        requests("POST", "/v1/workflow-types/{name}/start", "202"),
        Some(1.0)
    );
    assert_eq!(requests("POST", "/v1/workflows/{workflow_id}", "202"), None);
    assert_eq!(
        requests("POST", "/v1/workflows/{workflow_id}/queries/{name}", "200"),
        Some(1.0)
    );
    assert_eq!(
        requests("POST", "/v1/workflows/{workflow_id}/signals/{name}", "202"),
        Some(1.0)
    );
    assert_eq!(
        requests("GET", "/v1/workflows/{workflow_id}/result", "200"),
        Some(1.0)
    );
    assert_eq!(requests("GET", "/v1/workflows", "200"), Some(1.0));
    assert_eq!(
        requests("POST", "/v1/workflows/{workflow_id}/cancel", "404"),
        Some(1.0)
    );
    let calls = |operation: &str| {
        scrape.value(
            "flowgate_temporal_request_duration_seconds_count",
            &[("operation", operation)],
        )
    };
    for operation in [
        "start",
        "describe",
        "query",
        "update",
        "signal",
        "get_result",
        "list",
    ] {
        assert!(
            calls(operation).is_some_and(|n| n >= 1.0),
            "{operation}: {}",
            scrape.text
        );
    }
    assert_eq!(
        calls("cancel"),
        Some(0.0),
        "refused before Temporal was asked"
    );
    assert_eq!(
        scrape.value(
            "flowgate_workflow_starts_total",
            &[
                ("workflow_type", "OrderApprovalWorkflow"),
                ("outcome", "started")
            ]
        ),
        Some(1.0)
    );
    assert!(
        !scrape.text.contains("metrics-order-9f2") && !scrape.text.contains("metrics-missing-7c1")
    );
}
