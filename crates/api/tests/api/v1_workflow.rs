//! `GET /v1/workflows/{id}` and `/result`, and workflow ids that need percent-encoding.

use std::time::Duration;

use flowgate_testkit::{TestEnv, temporal};
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    json, problem,
    v1_support::{get, header, post, segment, shopping_start, start_pending_order},
};

#[tokio::test]
async fn describe_reports_status_times_type_queue_history_and_memo() {
    let env = TestEnv::start().await;
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["workflow_id"] = json!("described-order");
    body["memo"] = json!({"owner": {"team": "fruit"}});
    let started = json(
        post(&env, "/v1/workflows/shopping?wait=10", Some(&body), &[]).await,
        StatusCode::OK,
    )
    .await;

    let out = json(
        env.get("/v1/workflows/described-order").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(out["workflow_id"], "described-order");
    assert_eq!(out["run_id"], started["run_id"]);
    assert_eq!(out["workflow_type"], "ShoppingWorkflow");
    assert_eq!(out["task_queue"], "shopping-tasks");
    assert_eq!(out["status"], "completed");
    // The client's memo, and the progress the workflow reported in it.
    assert_eq!(
        out["memo"],
        json!({"owner": {"team": "fruit"}, "progress": {"ordered": 1, "total": 1}})
    );
    assert!(out["history_length"].as_u64().unwrap() >= 5, "{out}");
    for field in ["start_time", "execution_time", "close_time"] {
        let time = out[field].as_str().unwrap();
        assert!(time.ends_with("+00:00"), "{field}: {out}");
    }

    let missing = problem(
        env.get("/v1/workflows/no-such-id").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(missing["code"], "workflow-not-found");
}

#[tokio::test]
async fn the_result_peeks_by_default_and_long_polls_with_a_bounded_wait() {
    let env = TestEnv::builder().without_worker().start().await;
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["workflow_id"] = json!("waiting-order");
    let started = json(
        post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;

    let began = std::time::Instant::now();
    let peek = env.get("/v1/workflows/waiting-order/result").await;
    assert_eq!(
        header(&peek, "location"),
        "/v1/workflows/waiting-order/result"
    );
    let out = json(peek, StatusCode::ACCEPTED).await;
    assert_eq!(
        out,
        json!({"workflow_id": "waiting-order", "run_id": started["run_id"], "status": "running", "result": null})
    );
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "a peek answers at once"
    );

    // A bounded long-poll that sees the end: terminated by another client meanwhile.
    let client = env.temporal_client().await;
    let waiting = get(
        &env,
        "/v1/workflows/waiting-order/result",
        &[("prefer", "wait=15")],
    );
    let terminate = async { temporal::terminate(&client, "waiting-order", "stop").await };
    let (response, ()) = tokio::join!(waiting, terminate);
    assert_eq!(header(&response, "preference-applied"), "wait=15");
    let out = json(response, StatusCode::OK).await;
    assert_eq!(out["status"], "terminated", "{out}");
    assert_eq!(out["error"]["type"], "TerminatedFailure");

    problem(
        env.get("/v1/workflows/waiting-order/result?wait=soon")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        env.get("/v1/workflows/no-such-id/result").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn a_failed_workflow_reports_its_error_like_the_guide() {
    let env = TestEnv::start().await;
    let client = env.temporal_client().await;
    let input = json!({"items": [{"fruit": "APPLE", "amount": 0}]});
    temporal::start_raw(
        &client,
        "ShoppingWorkflow",
        "shopping-tasks",
        "v1-bad-order",
        &input,
    )
    .await;
    let out = json(
        env.get("/v1/workflows/v1-bad-order/result?wait=10").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(out["status"], "failed", "{out}");
    assert_eq!(out["result"], serde_json::Value::Null);
    assert_eq!(out["error"]["type"], "InvalidShoppingList");
}

#[tokio::test]
async fn ids_with_slashes_spaces_percent_signs_and_unicode_round_trip() {
    let env = TestEnv::start().await;
    for id in ["orders/2026/42", "order 42 %2F done", "заказ-β-✓"] {
        let mut body = shopping_start(&[("APPLE", 2)]);
        body["workflow_id"] = json!(id);
        let started = post(&env, "/v1/workflows/shopping", Some(&body), &[]).await;
        let location = header(&started, "location");
        let encoded = location
            .strip_prefix("/v1/workflows/")
            .and_then(|rest| rest.strip_suffix("/result"))
            .expect("the path of the workflow's result");
        assert!(
            encoded.is_ascii() && !encoded.contains(['/', ' ']),
            "{location}"
        );
        let decoded = percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, id, "{location}");
        let started = json(started, StatusCode::ACCEPTED).await;
        assert_eq!(started["workflow_id"], id);

        let workflow = format!("/v1/workflows/{encoded}");
        let described = json(env.get(&workflow).await, StatusCode::OK).await;
        assert_eq!(described["workflow_id"], id);
        let result = json(
            env.get(&format!("{location}?wait=10")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(result["workflow_id"], id);
        assert_eq!(result["result"], "Ordered 2 Apples...");
        // Messages address it the same way.
        let ended = post(
            &env,
            &format!("/v1/workflows/{}/cancel", segment(id)),
            None,
            &[],
        )
        .await;
        assert_eq!(
            problem(ended, StatusCode::CONFLICT).await["code"],
            "workflow-not-running"
        );
    }
    // Signals and queries reach an encoded id too.
    let id = "approvals/ACME corp/%/✓";
    start_pending_order(&env, id).await;
    let status = json(
        post(
            &env,
            &format!("/v1/workflows/{}/queries/status", segment(id)),
            None,
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["workflow_id"], id);
    assert_eq!(status["result"]["state"], "pending");
}

#[tokio::test]
async fn results_name_their_run_and_run_id_reaches_an_earlier_run() {
    let env = TestEnv::start().await;
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["workflow_id"] = json!("rerun-order");
    let first = json(
        post(&env, "/v1/workflows/shopping?wait=10", Some(&body), &[]).await,
        StatusCode::OK,
    )
    .await;
    body["input"] = json!({"items": [{"fruit": "BANANA", "amount": 2}]});
    let second = json(
        post(&env, "/v1/workflows/shopping?wait=10", Some(&body), &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(
        first["run_id"], second["run_id"],
        "a new run on the closed id"
    );

    let latest = json(
        env.get("/v1/workflows/rerun-order/result").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(latest["run_id"], second["run_id"], "{latest}");
    assert_eq!(latest["result"], "Ordered 2 Bananas...");
    let run = first["run_id"].as_str().unwrap();
    let earlier = json(
        env.get(&format!("/v1/workflows/rerun-order/result?run_id={run}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(earlier["run_id"], first["run_id"], "{earlier}");
    assert_eq!(earlier["result"], "Ordered 1 Apples...");
    let described = json(
        env.get(&format!("/v1/workflows/rerun-order?run_id={run}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(described["run_id"], first["run_id"], "{described}");
    // The guide's answer stays the guide's: no run id.
    let guide = json(
        env.get("/workflows/rerun-order/result").await,
        StatusCode::OK,
    )
    .await;
    assert!(guide.get("run_id").is_none(), "{guide}");

    let bad = problem(
        env.get("/v1/workflows/rerun-order/result?run_id=%0A").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["code"], "invalid-query", "{bad}");
    problem(
        env.get("/v1/workflows/rerun-order?run_id=00000000-0000-0000-0000-000000000000")
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
