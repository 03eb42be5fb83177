//! Red team: `?run_id=` is read by the access gate on every route addressed by workflow id, but
//! only describe and the `/v1` result act on the run it names. Every other such route (the
//! guide's status and result, signals, queries, updates, the update fetch, cancel, terminate)
//! ignores it and acts on the id's *latest* run. A key allowed on the type of an earlier run can
//! therefore act on a latest run of a type it has no permission for, by naming the earlier run.
//!
//! A malformed `run_id` reaches Temporal, whose `InvalidArgument` becomes a 500.

use flowgate_config::Settings;
use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    auth::{ADMIN, bearer, keys},
    json, problem,
    v1_support::{get, post, shopping_start},
};

const SHOP_READ: &str = "red-shop-read-key-5e1a";
const SHOP_MESSAGE: &str = "red-shop-message-key-6f2b";
const SHOP_CONTROL: &str = "red-shop-control-key-7a3c";

fn with_keys(s: &mut Settings) {
    keys(
        s,
        &[
            ("admin", ADMIN, &["*:*"]),
            ("shop-read", SHOP_READ, &["read:shopping"]),
            ("shop-message", SHOP_MESSAGE, &["message:shopping"]),
            ("shop-control", SHOP_CONTROL, &["control:shopping"]),
        ],
    );
}

const SHARED: &str = "red-shared-id";

/// `SHARED` first held a shopping run (closed), then a client other than Flowgate started the
/// victim's order on the same id: the order is the latest run. Returns the shopping run's id.
async fn shopping_then_victim_order(env: &TestEnv) -> String {
    let admin = bearer(ADMIN);
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["workflow_id"] = json!(SHARED);
    let shopping = json(
        post(
            env,
            "/v1/workflow-types/shopping/start",
            Some(&body),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let shopping_run = shopping["run_id"].as_str().unwrap().to_owned();
    let client = env.temporal_client().await;
    flowgate_testkit::temporal::terminate(&client, SHARED, "closed").await;
    flowgate_testkit::temporal::start_raw(
        &client,
        "OrderApprovalWorkflow",
        "shopping-tasks",
        SHARED,
        &json!({
            "customer": "Victim Corp",
            "items": [{"fruit": "CHERRY", "amount": 3}],
            "approval_timeout": "1h",
        }),
    )
    .await;
    // The admin sees the order as the id's latest run.
    let latest = json(
        get(
            env,
            &format!("/v1/workflows/{SHARED}"),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(latest["workflow_type"], "OrderApprovalWorkflow", "{latest}");
    assert_eq!(latest["status"], "running", "{latest}");
    shopping_run
}

async fn status_text(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn run_id_of_an_allowed_run_does_not_open_the_latest_run_of_another_type() {
    let env = TestEnv::builder()
        .settings(with_keys)
        .without_worker()
        .start()
        .await;
    let shopping_run = shopping_then_victim_order(&env).await;
    let run = format!("run_id={shopping_run}");
    let read = bearer(SHOP_READ);
    let message = bearer(SHOP_MESSAGE);
    let control = bearer(SHOP_CONTROL);

    // Without run_id, each key is refused on the order, as it should be.
    let refused = problem(
        get(
            &env,
            &format!("/workflows/{SHARED}/status"),
            &[("authorization", &read)],
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    problem(
        post(
            &env,
            &format!("/v1/workflows/{SHARED}/signals/approve"),
            Some(&json!({"approver": "mallory"})),
            &[("authorization", &message)],
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // With the shopping run named, each acts on the order (the latest run) instead.
    let mut holes: Vec<String> = Vec::new();
    let attempts: Vec<(&str, reqwest::Response)> = vec![
        (
            "guide status (read:shopping)",
            get(
                &env,
                &format!("/workflows/{SHARED}/status?{run}"),
                &[("authorization", &read)],
            )
            .await,
        ),
        (
            "guide result (read:shopping)",
            get(
                &env,
                &format!("/workflows/{SHARED}/result?{run}&wait=0"),
                &[("authorization", &read)],
            )
            .await,
        ),
        (
            "signal approve (message:shopping)",
            post(
                &env,
                &format!("/v1/workflows/{SHARED}/signals/approve?{run}"),
                Some(&json!({"approver": "mallory"})),
                &[("authorization", &message)],
            )
            .await,
        ),
        (
            "update fetch (message:shopping)",
            get(
                &env,
                &format!("/v1/workflows/{SHARED}/updates/add_note/some-update?{run}"),
                &[("authorization", &message)],
            )
            .await,
        ),
        (
            "terminate (control:shopping)",
            post(
                &env,
                &format!("/v1/workflows/{SHARED}/terminate?{run}"),
                Some(&json!({"reason": "mallory was here"})),
                &[("authorization", &control)],
            )
            .await,
        ),
    ];
    for (what, response) in attempts {
        let (status, body) = status_text(response).await;
        if status != StatusCode::FORBIDDEN {
            holes.push(format!("{what}: {status} {body}"));
        }
    }

    // What the admin sees of the victim's order afterwards.
    let admin = bearer(ADMIN);
    let order: Value = json(
        get(
            &env,
            &format!("/v1/workflows/{SHARED}"),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        holes.is_empty(),
        "keys restricted to shopping reached the victim's OrderApprovalWorkflow through ?run_id= \
         of an earlier shopping run:\n{}\nthe order now: {order}",
        holes.join("\n")
    );
    assert_eq!(order["status"], "running", "{order}");
}

#[tokio::test]
async fn a_malformed_run_id_is_a_client_error_not_a_500() {
    let env = TestEnv::builder()
        .settings(with_keys)
        .without_worker()
        .start()
        .await;
    let admin = bearer(ADMIN);
    let mut body = shopping_start(&[("APPLE", 1)]);
    body["workflow_id"] = json!("red-run-id-format");
    json(
        post(
            &env,
            "/v1/workflow-types/shopping/start",
            Some(&body),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let read = bearer(SHOP_READ);
    let mut server_errors = Vec::new();
    for (key, path) in [
        // read:* skips the gate's describe: the handler's describe or result read fails.
        (&admin, "/v1/workflows/red-run-id-format?run_id=not-a-run"),
        (
            &admin,
            "/v1/workflows/red-run-id-format/result?run_id=not-a-run",
        ),
        (
            &admin,
            "/v1/workflows/red-run-id-format/result?run_id=not-a-run&wait=1",
        ),
        // A restricted key: the gate's own describe fails, on any id, existing or not.
        (&read, "/v1/workflows/red-run-id-format?run_id=not-a-run"),
        (&read, "/v1/workflows/no-such-id?run_id=not-a-run"),
    ] {
        let response = get(&env, path, &[("authorization", key)]).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_server_error() {
            server_errors.push(format!("{path}: {status} {body}"));
        }
    }
    assert!(
        server_errors.is_empty(),
        "a run_id that is not a run id (documented: 422 invalid run_id) is answered 5xx:\n{}",
        server_errors.join("\n")
    );
}
