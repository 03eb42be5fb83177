//! Workflow ids are acted on only by someone allowed to act on the workflow they name: a start
//! never reaches a run of another type through its id policies, and replacing a run needs
//! `control` on it.

use flowgate_config::Settings;
use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    auth::{ADMIN, bearer, keys},
    json, problem,
    v1_support::{approval_start, get, post, segment, shopping_start},
};

const SHOP_ONLY: &str = "shop-only-key-41c7";
const SHOP_CONTROL: &str = "shop-control-key-93de";

fn with_keys(s: &mut Settings) {
    keys(
        s,
        &[
            ("admin", ADMIN, &["*:*"]),
            ("shop", SHOP_ONLY, &["start:shopping"]),
            (
                "shop-control",
                SHOP_CONTROL,
                &["start:shopping", "control:shopping", "read:shopping"],
            ),
        ],
    );
}

async fn start_as(
    env: &TestEnv,
    key: &str,
    path: &str,
    body: &Value,
    query: &str,
) -> reqwest::Response {
    let auth = bearer(key);
    post(
        env,
        &format!("{path}{query}"),
        Some(body),
        &[("authorization", &auth)],
    )
    .await
}

/// The admin's view of `id`: (type, status).
async fn admin_view(env: &TestEnv, id: &str) -> (String, String) {
    let auth = bearer(ADMIN);
    let out = json(
        get(
            env,
            &format!("/v1/workflows/{}", segment(id)),
            &[("authorization", &auth)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    (
        out["workflow_type"].as_str().unwrap().to_owned(),
        out["status"].as_str().unwrap().to_owned(),
    )
}

/// A 409 that says nothing of the run holding the id.
async fn taken(response: reqwest::Response, id: &str) {
    let body = problem(response, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "workflow-already-exists", "{body}");
    let text = body.to_string();
    for secret in [
        "OrderApproval",
        "order-approval",
        "RUNNING",
        "running",
        "TERMINATED",
        "terminated",
    ] {
        assert!(!text.contains(secret), "reveals {secret}: {body}");
    }
    assert!(text.contains(id), "{body}");
}

#[tokio::test]
async fn a_start_cannot_join_replace_or_take_over_a_workflow_of_another_type() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    // The victim: an order approval, running (no worker).
    let mut order = approval_start("Victim Corp");
    order["workflow_id"] = json!("victim-a");
    json(
        start_as(&env, ADMIN, "/v1/workflows/order-approval", &order, "").await,
        StatusCode::ACCEPTED,
    )
    .await;

    for (policy, query) in [
        ("use_existing", ""),
        ("use_existing", "?wait=1"),
        ("terminate_existing", ""),
        ("fail", ""),
    ] {
        let mut attack = shopping_start(&[("APPLE", 1)]);
        attack["workflow_id"] = json!("victim-a");
        attack["id_conflict_policy"] = json!(policy);
        // With read and control on shopping: the id is taken, nothing more.
        let response = start_as(&env, SHOP_CONTROL, "/v1/workflows/shopping", &attack, query).await;
        taken(response, "victim-a").await;
        // Without them, joining or terminating is refused before the id is looked at.
        let response = start_as(&env, SHOP_ONLY, "/v1/workflows/shopping", &attack, query).await;
        if policy == "fail" {
            taken(response, "victim-a").await;
        } else {
            let body = problem(response, StatusCode::FORBIDDEN).await;
            let text = body.to_string();
            assert!(
                !text.contains("victim-a") && !text.contains("Approval"),
                "{body}"
            );
        }
    }
    assert_eq!(
        admin_view(&env, "victim-a").await,
        ("OrderApprovalWorkflow".to_owned(), "running".to_owned()),
        "the other type's run is untouched"
    );

    // A closed run of another type: its id is not handed over by a reuse policy.
    let mut closed = approval_start("Closed Corp");
    closed["workflow_id"] = json!("victim-b");
    json(
        start_as(&env, ADMIN, "/v1/workflows/order-approval", &closed, "").await,
        StatusCode::ACCEPTED,
    )
    .await;
    let auth = bearer(ADMIN);
    json(
        post(
            &env,
            "/v1/workflows/victim-b/terminate",
            None,
            &[("authorization", &auth)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    for policy in ["allow_duplicate", "allow_duplicate_failed_only"] {
        let mut attack = shopping_start(&[("APPLE", 1)]);
        attack["workflow_id"] = json!("victim-b");
        attack["id_reuse_policy"] = json!(policy);
        taken(
            start_as(&env, SHOP_ONLY, "/v1/workflows/shopping", &attack, "").await,
            "victim-b",
        )
        .await;
    }
    assert_eq!(
        admin_view(&env, "victim-b").await,
        ("OrderApprovalWorkflow".to_owned(), "terminated".to_owned())
    );
}

#[tokio::test]
async fn replacing_a_running_workflow_needs_control_on_it() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["workflow_id"] = json!("mine-1");
    let first = json(
        start_as(&env, SHOP_ONLY, "/v1/workflows/shopping", &body, "").await,
        StatusCode::ACCEPTED,
    )
    .await;

    body["id_conflict_policy"] = json!("terminate_existing");
    let refused = problem(
        start_as(&env, SHOP_ONLY, "/v1/workflows/shopping", &body, "").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("control"),
        "{refused}"
    );
    assert_eq!(admin_view(&env, "mine-1").await.1, "running");

    let replaced = json(
        start_as(&env, SHOP_CONTROL, "/v1/workflows/shopping", &body, "").await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_ne!(replaced["run_id"], first["run_id"], "{replaced}");
    assert_eq!(replaced["replayed"], false);

    // `use_existing` answers with the running run: it needs read on it.
    body["id_conflict_policy"] = json!("use_existing");
    let refused = problem(
        start_as(&env, SHOP_ONLY, "/v1/workflows/shopping", &body, "").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("read"),
        "{refused}"
    );
    let joined = json(
        start_as(&env, SHOP_CONTROL, "/v1/workflows/shopping", &body, "").await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(joined["run_id"], replaced["run_id"]);
    assert_eq!(joined["replayed"], true);
}

#[tokio::test]
async fn run_id_does_not_reach_a_run_of_a_type_the_key_may_not_read() {
    let env = TestEnv::builder()
        .settings(with_keys)
        .without_worker()
        .start()
        .await;
    // An order of another type held the id first; another client (not through Flowgate) then
    // used the id for a shopping run.
    let admin = bearer(ADMIN);
    let mut order = approval_start("Victim Corp");
    order["workflow_id"] = json!("shared-id");
    let order = json(
        post(
            &env,
            "/v1/workflow-types/order-approval/start",
            Some(&order),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let order_run = order["run_id"].as_str().unwrap().to_owned();
    let client = env.temporal_client().await;
    flowgate_testkit::temporal::terminate(&client, "shared-id", "closed").await;
    flowgate_testkit::temporal::start_raw(
        &client,
        "ShoppingWorkflow",
        "shopping-tasks",
        "shared-id",
        &json!({"items": [{"fruit": "APPLE", "amount": 1}]}),
    )
    .await;

    // The key reads shopping workflows: the latest run, yes; the order's run, no.
    let reader = bearer(SHOP_CONTROL);
    let latest = json(
        get(
            &env,
            "/v1/workflows/shared-id",
            &[("authorization", &reader)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(latest["workflow_type"], "ShoppingWorkflow", "{latest}");
    for path in [
        format!("/v1/workflows/shared-id?run_id={order_run}"),
        format!("/v1/workflows/shared-id/result?run_id={order_run}"),
    ] {
        let refused = problem(
            get(&env, &path, &[("authorization", &reader)]).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        let text = refused.to_string();
        assert!(
            !text.contains("Victim") && !text.contains("Approval"),
            "{path}: {refused}"
        );
    }
}
