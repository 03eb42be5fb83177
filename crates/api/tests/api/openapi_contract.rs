//! The checked-in OpenAPI document (`docs/openapi.json`) is the one the code builds and serves.
//!
//! When the API changes on purpose, regenerate the file and commit it:
//! `FLOWGATE_UPDATE_OPENAPI=1 cargo test -p flowgate-api --test api openapi`.

use std::path::PathBuf;

use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::Value;

use crate::json;

/// Set to `1` to write the document to `docs/openapi.json` instead of comparing.
const UPDATE_ENV: &str = "FLOWGATE_UPDATE_OPENAPI";
const REGENERATE: &str = "FLOWGATE_UPDATE_OPENAPI=1 cargo test -p flowgate-api --test api openapi";

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// The document as the file holds it: pretty JSON with a trailing newline.
fn generated() -> String {
    let doc = flowgate_api::openapi();
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON values serialise");
    text.push('\n');
    text
}

#[test]
fn the_checked_in_openapi_document_matches_the_code() {
    let path = checked_in_path();
    let generated = generated();
    if std::env::var(UPDATE_ENV).as_deref() == Ok("1") {
        std::fs::write(&path, &generated).expect("docs/openapi.json is writable");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} unreadable ({e}); generate it with `{REGENERATE}`",
            path.display()
        )
    });
    assert!(
        checked_in == generated,
        "docs/openapi.json is out of date with the code; regenerate it with `{REGENERATE}` and \
         commit the change"
    );
}

#[tokio::test]
async fn the_served_openapi_document_is_the_checked_in_one() {
    // While the other test rewrites the file, compare with what it writes.
    let text = if std::env::var(UPDATE_ENV).as_deref() == Ok("1") {
        generated()
    } else {
        std::fs::read_to_string(checked_in_path())
            .unwrap_or_else(|e| panic!("docs/openapi.json unreadable ({e}): `{REGENERATE}`"))
    };
    let checked_in: Value = serde_json::from_str(&text).expect("docs/openapi.json is JSON");
    let env = TestEnv::builder().without_worker().start().await;

    let served = json(env.get("/openapi.json").await, StatusCode::OK).await;

    assert!(
        served == checked_in,
        "GET /openapi.json differs from docs/openapi.json; regenerate it with `{REGENERATE}`"
    );
}
