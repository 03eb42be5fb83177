//! The guide's contract: `GET /`, probes, request ids, the OpenAPI document and the docs UI.

use flowgate_testkit::TestEnv;
use flowgate_workflows::registry::registry;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::json;

#[tokio::test]
async fn root_reports_the_service_and_its_temporal_connection() {
    let env = TestEnv::start().await;
    let body = json(env.get("/").await, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"service": "Temporal Workflow API", "status": "running", "temporal_connected": true})
    );
}

#[tokio::test]
async fn probes_answer_when_temporal_is_reachable() {
    let env = TestEnv::start().await;
    assert_eq!(
        json(env.get("/livez").await, StatusCode::OK).await,
        json!({"status": "ok"})
    );
    assert_eq!(
        json(env.get("/readyz").await, StatusCode::OK).await,
        json!({"status": "ready"})
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_clients() {
    let env = TestEnv::start().await;
    let generated = env.get("/").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let kept = env
        .http
        .get(env.url("/nope"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "client-chosen-42");
    let body: serde_json::Value = kept.json().await.unwrap();
    assert_eq!(body["request_id"], "client-chosen-42");
}

/// The OpenAPI document the API serves (built by the code: no server needed to read it; that
/// the served one is this one is `openapi_contract`'s test).
fn document() -> serde_json::Value {
    flowgate_api::openapi()
}

#[test]
fn the_openapi_document_covers_every_route() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    // The fixed routes, then what the registry declares: a start path (and its alias) per
    // workflow, a path per signal, query and update name.
    let mut expected: Vec<(String, &str)> = [
        ("/", "get"),
        ("/livez", "get"),
        ("/readyz", "get"),
        ("/workflows/shopping", "post"),
        ("/workflows/shopping/async", "post"),
        ("/workflows/{workflow_id}/status", "get"),
        ("/workflows/{workflow_id}/result", "get"),
        ("/v1/workflows", "get"),
        ("/v1/workflows/{workflow_id}", "get"),
        ("/v1/workflows/{workflow_id}/result", "get"),
        ("/v1/workflows/{workflow_id}/events", "get"),
        ("/v1/workflows/{workflow_id}/callbacks", "get"),
        ("/v1/workflows/{workflow_id}/signals/{name}", "post"),
        ("/v1/workflows/{workflow_id}/queries/{name}", "post"),
        ("/v1/workflows/{workflow_id}/updates/{name}", "post"),
        (
            "/v1/workflows/{workflow_id}/updates/{name}/{update_id}",
            "get",
        ),
        ("/v1/workflows/{workflow_id}/cancel", "post"),
        ("/v1/workflows/{workflow_id}/terminate", "post"),
    ]
    .into_iter()
    .map(|(path, method)| (path.to_owned(), method))
    .collect();
    for def in registry().all() {
        expected.push((format!("/v1/workflow-types/{}/start", def.name), "post"));
        expected.push((format!("/v1/workflows/{}", def.name), "post"));
        for (kind, messages) in [
            ("signals", &def.signals),
            ("queries", &def.queries),
            ("updates", &def.updates),
        ] {
            for message in messages {
                expected.push((
                    format!("/v1/workflows/{{workflow_id}}/{kind}/{}", message.name),
                    "post",
                ));
            }
        }
    }
    expected.sort();
    expected.dedup();
    for (path, method) in &expected {
        assert!(
            doc["paths"][path.as_str()][*method].is_object(),
            "{method} {path} missing from the document"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        expected.len(),
        "undocumented extras or missing routes"
    );
    let fruits = &doc["components"]["schemas"]["Fruit"]["enum"];
    assert_eq!(fruits, &json!(["APPLE", "BANANA", "CHERRY", "ORANGE"]));
    // Callbacks: the notification is a component, the start's body has `callbacks`, and every
    // start operation declares the signed POST as an OpenAPI callback.
    let notification = &doc["components"]["schemas"]["WebhookNotification"];
    for field in ["type", "timestamp", "data"] {
        assert!(
            notification["properties"][field].is_object(),
            "{notification}"
        );
    }
    let start = &doc["paths"]["/v1/workflow-types/shopping/start"]["post"];
    assert!(
        start["description"]
            .as_str()
            .unwrap()
            .contains("webhook-signature")
    );
    assert!(doc["components"]["schemas"]["StartIn"]["properties"]["callbacks"].is_object());
    let mut starts = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let post = &item["post"];
        let Some(id) = post["operationId"].as_str() else {
            continue;
        };
        if !id.starts_with("start_") {
            assert!(post.get("callbacks").is_none(), "{path}: {id}");
            continue;
        }
        starts += 1;
        let callback =
            &post["callbacks"]["workflowClosed"]["{$request.body#/callbacks/0/url}"]["post"];
        assert_eq!(
            callback["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/WebhookNotification",
            "{path}"
        );
        let headers: Vec<_> = callback["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["in"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        assert_eq!(
            headers,
            [
                ("header", "webhook-id"),
                ("header", "webhook-timestamp"),
                ("header", "webhook-signature")
            ],
            "{path}"
        );
    }
    assert_eq!(starts, 2 * registry().all().len());
}

#[test]
fn every_protected_operation_documents_its_security_and_the_protection_answers() {
    let doc = document();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer", "{schemes}");
    assert!(
        schemes["bearerAuth"]["description"]
            .as_str()
            .unwrap()
            .contains("JWT"),
        "{schemes}"
    );
    assert_eq!(schemes["apiKey"]["name"], "X-API-Key", "{schemes}");
    assert_eq!(
        doc["security"],
        json!([{"bearerAuth": []}, {"apiKey": []}]),
        "required globally"
    );
    let retry_after = &doc["components"]["responses"]["RateLimited"]["headers"]["Retry-After"];
    assert_eq!(retry_after["schema"]["type"], "integer", "{retry_after}");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let open = ["/", "/livez", "/readyz"].contains(&path.as_str());
            if open {
                assert_eq!(operation["security"], json!([]), "{method} {path} is open");
                assert!(!responses.contains_key("401"), "{method} {path}");
                continue;
            }
            assert!(operation.get("security").is_none(), "{method} {path}");
            // The answers every body can get are the shared ones, referenced, not copied.
            if operation.get("requestBody").is_some() {
                for (status, name) in [("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]
                {
                    assert_eq!(
                        responses[status]["$ref"],
                        format!("#/components/responses/{name}"),
                        "{method} {path} {status}"
                    );
                }
            }
            for status in ["401", "403", "429", "503", "504"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
}

#[test]
fn the_openapi_document_types_each_registered_workflow_and_message() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let reference = |name: &str| json!(format!("#/components/schemas/{name}"));

    let start = &doc["paths"]["/v1/workflow-types/order-approval/start"]["post"];
    let body = &start["requestBody"]["content"]["application/json"];
    assert_eq!(body["schema"]["$ref"], reference("StartOrderApprovalIn"));
    assert_eq!(body["example"]["input"]["customer"], "ACME Corp", "{body}");
    assert_eq!(
        schemas["StartOrderApprovalIn"]["properties"]["input"]["$ref"],
        reference("ApprovalRequest")
    );
    assert_eq!(
        schemas["ApprovalRequest"]["required"],
        json!(["customer", "items"])
    );
    let ok = &start["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(ok, &reference("OrderApprovalRunOut"));
    assert_eq!(
        schemas["OrderApprovalRunOut"]["properties"]["result"]["oneOf"][0]["$ref"],
        reference("ApprovalOutcome")
    );
    assert_eq!(
        schemas["StartShoppingIn"]["properties"]["input"]["$ref"],
        reference("ShoppingList")
    );

    let note = &doc["paths"]["/v1/workflows/{workflow_id}/updates/add_note"]["post"];
    assert_eq!(
        note["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        reference("Note")
    );
    let out = &note["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(
        out["properties"]["result"]["$ref"],
        reference("NoteCount"),
        "{out}"
    );
    let status = &doc["paths"]["/v1/workflows/{workflow_id}/queries/status"]["post"];
    assert!(
        status["requestBody"].is_null(),
        "the query takes no argument"
    );
    for path in [
        "/v1/workflows/{workflow_id}/signals/approve",
        "/v1/workflows/{workflow_id}/result",
    ] {
        let operation = doc["paths"][path]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        let problems = &operation["responses"]["404"]["content"]["application/problem+json"];
        assert_eq!(problems["schema"]["$ref"], reference("Problem"), "{path}");
    }
}

#[tokio::test]
async fn the_docs_ui_is_served_by_the_binary_without_a_cdn() {
    let env = TestEnv::start().await;
    let page = env.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page loads nothing remote:\n{html}"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let response = env.get(asset).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let text = response.text().await.unwrap();
        assert!(text.len() > 100, "{asset} has content");
        if asset.ends_with("initializer.js") {
            assert!(
                text.contains("/openapi.json"),
                "the UI reads our document: {text}"
            );
            let compact: String = text.split_whitespace().collect();
            assert!(
                compact.contains(r#""validatorUrl":"none""#),
                "the UI asks no online validator about the document: {text}"
            );
        }
    }
    // `/docs` without the slash leads to the UI too.
    let bare = env.get("/docs").await;
    assert_eq!(
        bare.status(),
        StatusCode::OK,
        "redirects are followed to the UI"
    );
}

/// A minimal instance of `schema` (references resolved in `doc`): each required property of an
/// object with a value of its type.
fn instance(doc: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return instance(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(first) = schema["oneOf"].get(0).or_else(|| schema["allOf"].get(0)) {
        return instance(doc, first);
    }
    if let Some(values) = schema["enum"].as_array() {
        return values[0].clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds[0].clone(),
        kind => kind.clone(),
    };
    match kind.as_str() {
        Some("string") => json!("x"),
        Some("integer" | "number") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => {
            let mut object = serde_json::Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                object.insert(name.to_owned(), instance(doc, &schema["properties"][name]));
            }
            Value::Object(object)
        }
        _ => Value::Null,
    }
}

#[test]
fn the_client_reads_every_event_type_the_api_documents() {
    let doc = document();
    let variants = doc["components"]["schemas"]["EventOut"]["oneOf"]
        .as_array()
        .unwrap();
    assert!(variants.len() > 20, "{variants:?}");
    for variant in variants {
        let event = instance(&doc, variant);
        let documented = event["type"].as_str().unwrap().to_owned();
        let read: flowgate_client::WorkflowEvent =
            serde_json::from_value(event.clone()).expect("an event reads");
        assert!(
            !matches!(read.kind, flowgate_client::EventKind::Other { .. }),
            "the client does not know {documented} as sent: {event}"
        );
        assert_eq!(read.event_type(), documented);
    }
}
