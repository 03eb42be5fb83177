//! Integration tests of the HTTP API against a real Temporal dev server and the real worker.

mod auth;
mod auth_binary;
mod auth_jwks;
mod auth_jwt;
mod browser;
mod cart;
mod contract;
mod doc_examples;
mod drain;
mod drain_waits;
mod errors;
mod events;
mod faults;
mod guide_core;
mod metrics;
mod metrics_prometheus;
mod no_worker;
mod openapi_contract;
mod outage;
mod outcomes;
mod protection;
mod protection_headers;
mod python_client;
mod red_amplification;
mod red_run_id;
mod schemathesis;
mod sdk_dashboard;
mod shared_namespace;
mod shopping;
mod slow_link;
mod traces;
mod trust_abuse;
mod trust_access;
mod trust_attacks;
mod trust_idempotency;
mod trust_ids;
mod v1_control;
mod v1_idempotency;
mod v1_list;
mod v1_messages;
mod v1_observability;
mod v1_options;
mod v1_passthrough;
mod v1_start;
mod v1_support;
mod v1_workflow;
mod webhooks;
mod with_start;

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Asserts the status, that the body is a problem document of that status, and returns it.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.expect("JSON problem body");
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:flowgate:problem:"),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    assert_eq!(body["request_id"].as_str(), request_id.as_deref(), "{body}");
    body
}

/// The JSON body of a successful response.
pub async fn json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(actual, status, "{body}");
    body
}
