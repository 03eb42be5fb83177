//! `GET /v1/workflows`: visibility queries, cursor pagination, and search attributes set at start.

use std::{collections::BTreeSet, time::Duration};

use flowgate_testkit::{TestEnv, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};
use temporalio_client::{grpc::OperatorService, tonic::IntoRequest};
use temporalio_common::protos::temporal::api::{
    enums::v1::IndexedValueType, operatorservice::v1::AddSearchAttributesRequest,
};

use crate::{
    json, problem,
    v1_support::{post, shopping_start},
};

/// Workflow ids of every page of `query`, `page_size` at a time, following `next_page_token`.
async fn all_pages(env: &TestEnv, query: &str, page_size: usize) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut token) = (Vec::new(), 0, None::<String>);
    loop {
        let mut path = format!("/v1/workflows?query={query}&page_size={page_size}");
        if let Some(token) = &token {
            path.push_str(&format!("&page_token={token}"));
        }
        let page = json(env.get(&path).await, StatusCode::OK).await;
        let workflows = page["workflows"].as_array().unwrap();
        assert!(workflows.len() <= page_size, "{page}");
        ids.extend(
            workflows
                .iter()
                .map(|w| w["workflow_id"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match &page["next_page_token"] {
            Value::String(next) => token = Some(next.clone()),
            _ => return (ids, pages),
        }
    }
}

#[tokio::test]
async fn a_query_lists_matching_workflows_a_page_at_a_time() {
    let env = TestEnv::builder().without_worker().start().await;
    for n in 0..3 {
        let mut body = shopping_start(&[("APPLE", 1)]);
        body["workflow_id"] = json!(format!("listed-{n}"));
        json(
            post(&env, "/v1/workflows/shopping", Some(&body), &[]).await,
            StatusCode::ACCEPTED,
        )
        .await;
    }
    json(
        post(
            &env,
            "/v1/workflows/order-approval",
            Some(&crate::v1_support::approval_start("X")),
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;

    let query = "WorkflowType%3D%27ShoppingWorkflow%27";
    eventually(
        Duration::from_secs(10),
        "visibility to show all three",
        || async {
            let page = json(
                env.get(&format!("/v1/workflows?query={query}")).await,
                StatusCode::OK,
            )
            .await;
            (page["workflows"].as_array().unwrap().len() == 3).then_some(())
        },
    )
    .await;
    let (ids, pages) = all_pages(&env, query, 1).await;
    let ids: BTreeSet<_> = ids.into_iter().collect();
    assert_eq!(
        ids,
        ["listed-0", "listed-1", "listed-2"]
            .map(str::to_owned)
            .into()
    );
    assert_eq!(pages, 3, "one per page, and the third says it is the last");
    // A full page that ends the list says so too.
    let (_, pages) = all_pages(&env, query, 3).await;
    assert_eq!(pages, 1, "no further empty page");

    let page = json(
        env.get(&format!("/v1/workflows?query={query}&page_size=10"))
            .await,
        StatusCode::OK,
    )
    .await;
    let first = &page["workflows"][0];
    assert_eq!(first["workflow_type"], "ShoppingWorkflow");
    assert_eq!(first["status"], "running");
    assert_eq!(first["task_queue"], "shopping-tasks");
    assert!(
        first["run_id"].is_string() && first["start_time"].is_string(),
        "{first}"
    );
    assert_eq!(page["next_page_token"], Value::Null);

    // Without a query: every workflow of the namespace, the order-approval one too.
    eventually(Duration::from_secs(10), "all four to be listed", || async {
        let page = json(env.get("/v1/workflows").await, StatusCode::OK).await;
        (page["workflows"].as_array().unwrap().len() == 4).then_some(())
    })
    .await;
}

#[tokio::test]
async fn bad_queries_and_parameters_are_problems() {
    let env = TestEnv::start().await;
    let bad = problem(
        env.get("/v1/workflows?query=this%20is%20not%20a%20query")
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(bad["code"], "invalid-visibility-query");
    let unknown = problem(
        env.get("/v1/workflows?query=NoSuchField%3D1").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(unknown["code"], "invalid-visibility-query");
    for params in [
        "page_size=0",
        "page_size=1001",
        "page_size=ten",
        "page_token=xyz",
    ] {
        let out = problem(
            env.get(&format!("/v1/workflows?{params}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(out["code"], "invalid-query", "{params}");
    }
}

#[tokio::test]
async fn search_attributes_set_at_start_are_described_and_queryable() {
    let env = TestEnv::start().await;
    let mut client = env.temporal_client().await;
    let request = AddSearchAttributesRequest {
        search_attributes: [("FlowgateTeam".to_owned(), IndexedValueType::Keyword as i32)].into(),
        namespace: "default".to_owned(),
    };
    OperatorService::add_search_attributes(&mut client, request.into_request())
        .await
        .expect("registered");

    let mut body = shopping_start(&[("APPLE", 1)]);
    body["workflow_id"] = json!("team-order");
    body["search_attributes"] = json!({"FlowgateTeam": "fruit"});
    // The server's search attribute cache catches up with the registration.
    let status = eventually(
        Duration::from_secs(30),
        "the attribute to be usable",
        || async {
            let response = post(&env, "/v1/workflows/shopping", Some(&body), &[]).await;
            (response.status() != StatusCode::UNPROCESSABLE_ENTITY).then_some(response.status())
        },
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Once a worker has run it, Temporal adds its own (`BuildIds`): only the client's are shown.
    json(
        env.get("/v1/workflows/team-order/result?wait=10").await,
        StatusCode::OK,
    )
    .await;
    let described = json(env.get("/v1/workflows/team-order").await, StatusCode::OK).await;
    assert_eq!(
        described["search_attributes"],
        json!({"FlowgateTeam": "fruit"}),
        "{described}"
    );
    eventually(
        Duration::from_secs(10),
        "the attribute to be searchable",
        || async {
            let page = json(
                env.get("/v1/workflows?query=FlowgateTeam%3D%27fruit%27")
                    .await,
                StatusCode::OK,
            )
            .await;
            (page["workflows"][0]["workflow_id"] == "team-order").then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_page_token_this_api_did_not_give_is_a_422_at_once() {
    let env = TestEnv::builder().without_worker().start().await;
    for token in ["00ff", "7b7d", "zz"] {
        let started = std::time::Instant::now();
        let response = env.get(&format!("/v1/workflows?page_token={token}")).await;
        let body = crate::problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["code"], "invalid-query", "{token}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("page_token"),
            "{body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{token}: answered at once"
        );
    }
}
