//! The client against a real stack: Temporal dev server, worker and API (flowgate-testkit).

use std::time::{Duration, Instant};

use flowgate_client::{
    Arg, Callback, CallbackEvent, Client, DeliveryStatus, Error, EventKind, EventsOptions,
    IdConflictPolicy, MessageReply, RunStatus, StartOptions, WorkflowEvent,
};
use flowgate_testkit::{TestEnv, eventually, metrics};
use flowgate_workflows::{
    approval::{
        Approval, ApprovalOutcome, ApprovalRequest, ApprovalState, ApprovalStatus, Note, NoteCount,
    },
    shopping::{Fruit, OrderProgress, ShoppingItem, ShoppingList},
};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn client(env: &TestEnv) -> Client {
    Client::builder(&env.url(""))
        .server_wait(env.settings.api.result_wait)
        .build()
        .expect("client")
}

fn guide_list() -> ShoppingList {
    ShoppingList {
        items: vec![
            ShoppingItem {
                fruit: Fruit::Apple,
                amount: 5,
            },
            ShoppingItem {
                fruit: Fruit::Banana,
                amount: 3,
            },
        ],
    }
}

fn order(customer: &str) -> ApprovalRequest {
    ApprovalRequest {
        customer: customer.to_owned(),
        items: vec![ShoppingItem {
            fruit: Fruit::Apple,
            amount: 2,
        }],
        approval_timeout: Some("1h".to_owned()),
    }
}

#[tokio::test]
async fn the_guides_sync_trigger_returns_the_order_lines() {
    let env = TestEnv::start().await;
    let client = client(&env);

    let run = client
        .shopping_sync(&guide_list())
        .await
        .expect("sync trigger");

    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(
        run.result.as_deref(),
        Some("Ordered 5 Apples...Ordered 3 Bananas...")
    );
    assert!(run.workflow_id.starts_with("shopping-workflow-"), "{run:?}");
    assert_eq!(run.error, None);
}

#[tokio::test]
async fn the_guides_async_trigger_is_waited_for_and_its_status_read() {
    let env = TestEnv::start().await;
    let client = client(&env);

    let started = client
        .shopping_async(&guide_list())
        .await
        .expect("async trigger");
    assert_eq!(started.status, RunStatus::Started);
    assert_eq!(started.result, None);
    let done = client
        .wait_for_result(&started.workflow_id, Duration::from_secs(60))
        .await
        .expect("the workflow ends");
    let status = client.status(&started.workflow_id).await.expect("status");

    assert_eq!(done.workflow_id, started.workflow_id);
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(
        done.result.as_deref(),
        Some("Ordered 5 Apples...Ordered 3 Bananas...")
    );
    assert_eq!(status.workflow_id, started.workflow_id);
    assert_eq!(status.status, "COMPLETED");
    assert!(
        status.start_time.is_some() && status.close_time.is_some(),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_v1_start_waits_for_the_result_and_an_idempotent_retry_replays_the_same_run() {
    let env = TestEnv::start().await;
    let client = client(&env);
    let list = ShoppingList {
        items: vec![ShoppingItem {
            fruit: Fruit::Cherry,
            amount: 4,
        }],
    };
    let options = StartOptions {
        wait: Some(WAIT),
        idempotency_key: Some("order-7f3a".to_owned()),
        ..StartOptions::default()
    };

    let first = client
        .start("shopping", &list, &options)
        .await
        .expect("start");
    let retry = client
        .start("shopping", &list, &options)
        .await
        .expect("retry");
    let other_body = ShoppingList {
        items: vec![ShoppingItem {
            fruit: Fruit::Cherry,
            amount: 5,
        }],
    };
    let reused = client.start("shopping", &other_body, &options).await;

    assert!(!first.accepted, "ended within the wait: a 200, {first:?}");
    assert_eq!(first.run.status, RunStatus::Completed);
    assert_eq!(
        first.run.result_as::<String>().unwrap().as_deref(),
        Some("Ordered 4 Cherries...")
    );
    assert!(!first.replayed());
    assert!(first.run.run_id.is_some());
    assert!(retry.replayed(), "{retry:?}");
    assert_eq!(retry.run.workflow_id, first.run.workflow_id);
    assert_eq!(retry.run.run_id, first.run.run_id);
    assert_eq!(retry.run.result, first.run.result);
    let problem = reused.expect_err("another body with the key is refused");
    assert_eq!(
        problem.code(),
        Some("idempotency-key-reused"),
        "{problem:?}"
    );
    assert_eq!(problem.problem().map(|p| p.status), Some(422));
}

#[tokio::test]
async fn an_order_is_started_queried_noted_approved_and_its_result_read() {
    let env = TestEnv::start().await;
    let client = client(&env);

    let started = client
        .start(
            "order-approval",
            &order("ACME Corp"),
            &StartOptions::default(),
        )
        .await
        .expect("start");
    assert!(started.accepted, "no wait: a 202, {started:?}");
    assert_eq!(started.run.status, RunStatus::Running);
    let id = started.run.workflow_id.clone();
    assert_eq!(
        started.location.as_deref(),
        Some(format!("/v1/workflows/{id}/result").as_str())
    );

    let status: ApprovalStatus = client
        .query(&id, "status", Arg::none())
        .await
        .expect("query");
    assert_eq!(status.state, ApprovalState::Pending);
    assert_eq!(status.customer, "ACME Corp");

    let note = Arg::json(&Note {
        text: "deliver on Monday".to_owned(),
    });
    let noted = client
        .update::<NoteCount>(&id, "add_note", note, Some("note-1"))
        .await
        .expect("update");
    assert_eq!(noted.result, NoteCount(1));
    assert!(noted.update_id.is_some());
    let again = client
        .update::<NoteCount>(
            &id,
            "add_note",
            Arg::json(&Note {
                text: "deliver on Monday".to_owned(),
            }),
            Some("note-1"),
        )
        .await
        .expect("retried update");
    assert_eq!(
        again.result,
        NoteCount(1),
        "the same key is the same update"
    );
    assert_eq!(again.update_id, noted.update_id);

    let peek = client.v1_result(&id, None).await.expect("peek");
    assert_eq!(peek.status, RunStatus::Running);
    let waited_from = Instant::now();
    let timed_out = client.wait_for_result(&id, Duration::from_secs(1)).await;
    assert!(
        matches!(timed_out, Err(Error::WaitTimedOut { .. })),
        "{timed_out:?}"
    );
    let waited = waited_from.elapsed();
    assert!(waited >= Duration::from_secs(1), "it waited: {waited:?}");
    assert!(waited < Duration::from_secs(10), "bounded: {waited:?}");

    let signaled: MessageReply = client
        .signal(
            &id,
            "approve",
            Arg::json(&Approval {
                approver: "alice".to_owned(),
            }),
        )
        .await
        .expect("signal");
    assert_eq!(signaled.action, "signaled");
    let run = client.v1_result(&id, Some(WAIT)).await.expect("result");

    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let outcome: ApprovalOutcome = run.result_as().unwrap().expect("a result");
    assert_eq!(outcome.state, ApprovalState::Approved);
    assert_eq!(outcome.decided_by.as_deref(), Some("alice"));
    assert_eq!(outcome.notes, vec!["deliver on Monday".to_owned()]);
    assert_eq!(outcome.order_lines.as_deref(), Some("Ordered 2 Apples..."));
    let described = client.describe(&id).await.expect("describe");
    assert_eq!(described.workflow_type, "OrderApprovalWorkflow");
    assert_eq!(described.status, RunStatus::Completed);
}

#[tokio::test]
async fn an_invalid_amount_is_a_422_problem_naming_its_field() {
    let env = TestEnv::start().await;
    let client = client(&env);
    let list = ShoppingList {
        items: vec![ShoppingItem {
            fruit: Fruit::Apple,
            amount: 0,
        }],
    };

    let guide = client.shopping_sync(&list).await.expect_err("invalid");
    let v1 = client
        .start("shopping", &list, &StartOptions::default())
        .await
        .expect_err("invalid");

    let problem = guide.problem().expect("a problem document");
    assert_eq!(problem.status, 422);
    assert_eq!(problem.code, "validation-failed");
    assert_eq!(problem.type_uri, "urn:flowgate:problem:validation-failed");
    assert_eq!(problem.errors[0].pointer, "/items/0/amount");
    assert!(problem.request_id.is_some(), "{problem:?}");
    let problem = v1.problem().expect("a problem document");
    assert_eq!(problem.code, "validation-failed");
    assert_eq!(problem.errors[0].pointer, "/input/items/0/amount");
}

#[tokio::test]
async fn ids_with_slashes_spaces_percent_signs_and_unicode_round_trip() {
    let env = TestEnv::start().await;
    let client = client(&env);

    for id in ["orders/2026/42", "order 42 %2F done?#", "заказ-β-✓"] {
        let options = StartOptions {
            workflow_id: Some(id.to_owned()),
            id_conflict_policy: Some(IdConflictPolicy::Fail),
            ..StartOptions::default()
        };
        let started = client
            .start("order-approval", &order("Ünïcode GmbH"), &options)
            .await
            .expect("start");
        assert_eq!(started.run.workflow_id, id);

        let described = client.describe(id).await.expect("describe");
        let status = client.status(id).await.expect("guide status");
        let status_query: ApprovalStatus = client
            .query(id, "status", Arg::none())
            .await
            .expect("query");
        let terminated = client
            .terminate(id, Some("test over"))
            .await
            .expect("terminate");
        let run = client.v1_result(id, Some(WAIT)).await.expect("result");

        assert_eq!(described.workflow_id, id);
        assert_eq!(status.workflow_id, id);
        assert_eq!(status_query.customer, "Ünïcode GmbH");
        assert_eq!(terminated.workflow_id, id);
        assert_eq!(run.workflow_id, id);
        assert_eq!(run.status, RunStatus::Terminated);
    }
    let listed = eventually(Duration::from_secs(20), "the ids in the list", || async {
        let all = client
            .list_all(Some("WorkflowType='OrderApprovalWorkflow'"), Some(1))
            .await
            .expect("list");
        (all.len() == 3).then_some(all)
    })
    .await;
    let mut ids: Vec<_> = listed.iter().map(|w| w.workflow_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["order 42 %2F done?#", "orders/2026/42", "заказ-β-✓"]);
}

#[tokio::test]
async fn a_canceled_order_ends_canceled_and_then_refuses_signals_with_409() {
    let env = TestEnv::start().await;
    let client = client(&env);
    let started = client
        .start(
            "order-approval",
            &order("ACME Corp"),
            &StartOptions::default(),
        )
        .await
        .expect("start");
    let id = started.run.workflow_id;

    let canceled = client.cancel(&id, None).await.expect("cancel");
    let run = client
        .v1_wait_for_result(&id, Duration::from_secs(60))
        .await
        .expect("result");
    let late = client
        .signal(
            &id,
            "approve",
            Arg::json(&Approval {
                approver: "alice".to_owned(),
            }),
        )
        .await
        .expect_err("the workflow has ended");

    assert_eq!(canceled.action, "cancel_requested");
    assert_eq!(run.status, RunStatus::Canceled, "{run:?}");
    assert!(run.error.is_some());
    assert_eq!(late.code(), Some("workflow-not-running"), "{late:?}");
}

#[tokio::test]
async fn an_unknown_workflow_is_a_404_problem() {
    let env = TestEnv::start().await;
    let client = client(&env);

    let error = client
        .describe("no/such workflow")
        .await
        .expect_err("unknown");

    assert_eq!(error.code(), Some("workflow-not-found"), "{error:?}");
}

#[tokio::test]
async fn a_bearer_credential_authenticates_every_call_and_none_is_a_401_problem() {
    use flowgate_config::{ApiKeySettings, AuthSettings, Secret};
    use sha2::{Digest, Sha256};
    const KEY: &str = "client-test-key-4c1f9a";
    let hash: String = Sha256::digest(KEY.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            s.auth = AuthSettings {
                enabled: true,
                api_keys: vec![ApiKeySettings {
                    name: "ci".to_owned(),
                    sha256: Secret::new(hash),
                    permissions: vec!["*:*".to_owned()],
                    roles: Vec::new(),
                }],
                ..AuthSettings::default()
            };
        })
        .start()
        .await;

    let error = client(&env)
        .shopping_async(&guide_list())
        .await
        .expect_err("no credential");
    assert_eq!(error.code(), Some("unauthenticated"), "{error:?}");

    let authenticated = Client::builder(&env.url(""))
        .bearer(KEY)
        .build()
        .expect("client");
    assert!(!format!("{authenticated:?}").contains(KEY));
    let started = authenticated
        .shopping_async(&guide_list())
        .await
        .expect("authenticated start");
    let described = authenticated
        .describe(&started.workflow_id)
        .await
        .expect("authenticated describe");
    assert_eq!(described.workflow_id, started.workflow_id);
}

#[tokio::test]
async fn the_events_of_a_watched_order_are_its_history_once_in_order_though_the_server_cuts_the_stream()
 {
    // Streams end after a second; the orders (placed concurrently) take four: the stream is cut
    // mid-workflow and must resume.
    let env = TestEnv::builder()
        .settings(|s| {
            s.api.events.max_age = Duration::from_secs(1);
            s.shopping.order_delay = Duration::from_secs(4);
        })
        .start()
        .await;
    let client = Client::builder(&env.url(""))
        .events_max_age(env.settings.api.events.max_age)
        .build()
        .expect("client");
    let list = ShoppingList {
        items: [(Fruit::Apple, 2), (Fruit::Banana, 1), (Fruit::Cherry, 3)]
            .into_iter()
            .map(|(fruit, amount)| ShoppingItem { fruit, amount })
            .collect(),
    };
    let started = client
        .start("shopping", &list, &StartOptions::default())
        .await
        .expect("start");
    let id = started.run.workflow_id;

    let watched: Vec<WorkflowEvent> = tokio::time::timeout(
        Duration::from_secs(60),
        client.events(&id, &EventsOptions::default()).try_collect(),
    )
    .await
    .expect("the stream ends with the workflow")
    .expect("no error on the stream");
    let scraped = metrics::scrape(&env.http, &env.api_admin_url("/metrics")).await;
    let history = client.history(&id, None).await.expect("history");

    let done = watched.last().expect("events");
    assert_eq!(done.event_type(), "workflow_completed", "{watched:#?}");
    assert_eq!(
        done.result_as::<String>().unwrap().as_deref(),
        Some("Ordered 2 Apples...Ordered 1 Bananas...Ordered 3 Cherries...")
    );
    assert_eq!(watched, history.events, "the stream is the history");
    assert_eq!(history.workflow_id, id);
    assert_eq!(Some(&history.run_id), started.run.run_id.as_ref());
    assert_eq!(history.next_after, None);
    assert_eq!(watched[0].event_type(), "workflow_started");
    let progress: Vec<OrderProgress> = watched
        .iter()
        .filter_map(|e| e.progress_as().expect("an OrderProgress"))
        .collect();
    assert_eq!(
        progress,
        (1..=3)
            .map(|ordered| OrderProgress { ordered, total: 3 })
            .collect::<Vec<_>>()
    );
    let activities = |kind: &str| {
        watched
            .iter()
            .filter(|e| e.event_type() == kind)
            .filter_map(|e| e.activity_type())
            .collect::<Vec<_>>()
    };
    let mut completed = activities("activity_completed");
    completed.sort_unstable();
    assert_eq!(
        activities("activity_scheduled"),
        ["order_apples", "order_bananas", "order_cherries"]
    );
    assert_eq!(
        completed,
        ["order_apples", "order_bananas", "order_cherries"]
    );
    // The API counts the resumes it served (a resume names the last event it had).
    let resumes = scraped
        .value("flowgate_event_stream_resumes_total", &[])
        .unwrap_or_default();
    assert!(resumes >= 2.0, "resumed streams: {resumes}");
    // Once the run is over, a stream from where it ended is empty (the API's 204).
    let after_end = client
        .events(
            &id,
            &EventsOptions {
                after: Some(done.event_id),
                ..EventsOptions::default()
            },
        )
        .collect::<Vec<_>>()
        .await;
    assert!(after_end.is_empty(), "{after_end:?}");
}

#[tokio::test]
async fn events_beyond_the_stream_limit_are_a_429_problem_and_a_terminated_run_ends_its_stream() {
    let env = TestEnv::builder()
        .settings(|s| s.api.events.max_streams_per_client = 1)
        .start()
        .await;
    let client = client(&env);
    let cart = json!({"customer": "ACME Corp", "checkout_after": "1h"});
    let started = client
        .start("cart", &cart, &StartOptions::default())
        .await
        .expect("start");
    let id = started.run.workflow_id;

    let mut first = client.events(&id, &EventsOptions::default());
    let opened = first.next().await.expect("an event").expect("no error");
    let refused = client
        .events(&id, &EventsOptions::default())
        .next()
        .await
        .expect("an item")
        .expect_err("one stream per client");
    client
        .terminate(&id, Some("test over"))
        .await
        .expect("terminate");
    let rest: Vec<WorkflowEvent> = tokio::time::timeout(WAIT, first.try_collect())
        .await
        .expect("the stream ends with the run")
        .expect("no error on the stream");
    let unknown = client
        .events("no/such workflow", &EventsOptions::default())
        .collect::<Vec<_>>()
        .await;

    assert_eq!(opened.event_type(), "workflow_started");
    assert_eq!(refused.code(), Some("too-many-streams"), "{refused:?}");
    assert_eq!(refused.problem().map(|p| p.status), Some(429));
    let end = rest.last().expect("events after the start");
    assert_eq!(
        end.kind,
        EventKind::WorkflowTerminated {
            reason: Some("test over".to_owned())
        }
    );
    assert!(
        matches!(
            unknown.as_slice(),
            [Err(e)] if e.code() == Some("workflow-not-found")
        ),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_cart_is_filled_with_update_with_start_and_checked_out_with_signal_with_start() {
    let env = TestEnv::start().await;
    let client = client(&env);
    let cart = serde_json::json!({"customer": "ACME Corp", "checkout_after": "1h"});
    let options = StartOptions {
        workflow_id: Some("client-cart-1".to_owned()),
        ..StartOptions::default()
    };
    let apple = ShoppingItem {
        fruit: Fruit::Apple,
        amount: 2,
    };
    let (started, added) = client
        .update_with_start::<serde_json::Value, _, _>(
            "cart",
            &cart,
            "add_item",
            Some(&apple),
            &options,
        )
        .await
        .unwrap();
    assert!(!started.replayed(), "a new cart");
    assert_eq!(
        added.result["items"],
        serde_json::json!([{"fruit": "APPLE", "amount": 2}])
    );
    let cherry = ShoppingItem {
        fruit: Fruit::Cherry,
        amount: 1,
    };
    let (again, added) = client
        .update_with_start::<serde_json::Value, _, _>(
            "cart",
            &cart,
            "add_item",
            Some(&cherry),
            &options,
        )
        .await
        .unwrap();
    assert!(again.replayed(), "the same cart");
    assert_eq!(again.run.run_id, started.run.run_id);
    assert_eq!(added.result["items"].as_array().unwrap().len(), 2);

    let checkout = StartOptions {
        wait: Some(WAIT),
        ..options.clone()
    };
    let done = client
        .signal_with_start::<_, ()>("cart", &cart, "checkout", None, &checkout)
        .await
        .unwrap();
    assert_eq!(done.run.status, RunStatus::Completed);
    assert_eq!(
        done.run.result.unwrap()["order_lines"],
        "Ordered 2 Apples...Ordered 1 Cherries..."
    );
}

#[tokio::test]
async fn a_start_names_callbacks_and_their_deliveries_are_read_back() {
    let env = TestEnv::builder()
        .settings(|s| {
            s.webhooks.allow_private_addresses = true;
            s.webhooks.allow_http = true;
        })
        .start()
        .await;
    let client = client(&env);
    // Nothing listens there: the delivery stays pending, retried.
    let url = "http://127.0.0.1:9/hook".to_owned();
    let options = StartOptions {
        callbacks: Some(vec![Callback {
            url: url.clone(),
            events: Some(vec![CallbackEvent::Completed]),
        }]),
        ..StartOptions::default()
    };
    let started = client
        .start("shopping", &guide_list(), &options)
        .await
        .expect("start");
    let id = started.run.workflow_id;
    let state = eventually(WAIT * 3, "a failed attempt", || async {
        let state = client.callbacks(&id).await.expect("callbacks");
        (state.callbacks[0].attempts >= 1).then_some(state)
    })
    .await;
    assert_eq!(state.workflow_id, id);
    assert_eq!(state.callbacks[0].url, url);
    assert_eq!(state.callbacks[0].status, DeliveryStatus::Pending);
    assert!(state.callbacks[0].last_error.is_some(), "{state:?}");

    let plain = client
        .start("shopping", &guide_list(), &StartOptions::default())
        .await
        .expect("start");
    let error = client
        .callbacks(&plain.run.workflow_id)
        .await
        .expect_err("no callbacks");
    assert_eq!(error.code(), Some("callbacks-not-found"), "{error:?}");
}
