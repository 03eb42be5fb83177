//! Messages to workflows whose type is not registered: the JSON goes through as is.

use std::time::Duration;

use flowgate_testkit::{TestEnv, temporal};
use reqwest::StatusCode;
use serde_json::{Value, json};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::{
    json, problem,
    v1_support::{history, post},
};

#[tokio::test]
async fn messages_to_unregistered_types_pass_through() {
    let env = TestEnv::builder()
        .settings(|s| s.api.result_wait = Duration::from_secs(1))
        .start()
        .await;
    let client = env.temporal_client().await;
    temporal::start_raw(
        &client,
        "ExternalWorkflow",
        "external-tasks",
        "external-1",
        &json!({"any": "input"}),
    )
    .await;

    let payload = json!({"free": ["form", 1]});
    json(
        post(
            &env,
            "/v1/workflows/external-1/signals/poke",
            Some(&payload),
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    json(
        post(&env, "/v1/workflows/external-1/signals/nudge", None, &[]).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let signals: Vec<_> = history(&env, "external-1")
        .await
        .into_iter()
        .filter_map(|a| match a {
            Attributes::WorkflowExecutionSignaledEventAttributes(s) => {
                let args: Vec<Value> = s
                    .input
                    .map(|p| p.payloads)
                    .unwrap_or_default()
                    .iter()
                    .map(|p| serde_json::from_slice(&p.data).unwrap())
                    .collect();
                Some((s.signal_name, args))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        signals,
        [
            ("poke".to_owned(), vec![payload]),
            ("nudge".to_owned(), vec![])
        ]
    );

    // No worker serves it: the update cannot complete, and the answer says why.
    let out = problem(
        post(
            &env,
            "/v1/workflows/external-1/updates/anything?wait=1",
            Some(&json!(1)),
            &[],
        )
        .await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(out["code"], "no-worker", "{out}");
}
