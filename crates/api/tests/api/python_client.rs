//! A client generated from the served OpenAPI document (PyPI `openapi-python-client`) builds and
//! drives a real stack: the document is correct enough for code generators, not only for readers.
//!
//! Skips when the generator is missing (install hint printed), unless
//! `FLOWGATE_REQUIRE_DEPLOY_TOOLS=1`. Run it alone with
//! `cargo test -p flowgate-api --test api python_client`.

use flowgate_deploy_checks::tools;
use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::process::Command;

const INSTALL: &str = "pip install openapi-python-client==0.29.1";

/// Uses the generated package `client` the way its README says: typed models in, typed models
/// out, printed as one JSON document for the test to check.
const SCRIPT: &str = r#"
import json, sys
from client import Client
from client.api.v1 import start_shopping, get_workflow
from client.api.shopping import create_shopping_workflow
from client.api.workflows import get_workflow_status
from client.models import StartShoppingIn, ShoppingIn

api = Client(base_url=sys.argv[1], raise_on_unexpected_status=True)
started = start_shopping.sync_detailed(
    client=api,
    body=StartShoppingIn.from_dict({"input": {"items": [{"fruit": "APPLE", "amount": 2}]}}),
    wait="10",
    idempotency_key="generated-client-1",
)
run = started.parsed
described = get_workflow.sync(client=api, workflow_id=run.workflow_id)
guide = create_shopping_workflow.sync(
    client=api, body=ShoppingIn.from_dict({"items": [{"fruit": "CHERRY", "amount": 1}]})
)
status = get_workflow_status.sync(client=api, workflow_id=guide.workflow_id)
print(json.dumps({
    "start_status": started.status_code.value,
    "start": run.to_dict(),
    "described_type": described.workflow_type,
    "guide": guide.to_dict(),
    "guide_status": status.status,
}))
"#;

#[tokio::test]
async fn a_client_generated_from_the_document_starts_and_reads_workflows() {
    let Some(python) = tools::python_with_or_skip(&["openapi_python_client"], INSTALL) else {
        return;
    };
    let env = TestEnv::start().await;
    let document = env
        .get("/openapi.json")
        .await
        .bytes()
        .await
        .expect("the document");
    let dir = env.dir().join("generated");
    std::fs::create_dir_all(&dir).expect("a directory for the client");
    let spec = dir.join("openapi.json");
    std::fs::write(&spec, &document).expect("the document is writable");

    let generated = Command::new(&python)
        .args(["-m", "openapi_python_client", "generate", "--meta", "none"])
        .arg("--path")
        .arg(&spec)
        .arg("--output-path")
        .arg(dir.join("client"))
        .output()
        .await
        .expect("the generator runs");
    let stderr = String::from_utf8_lossy(&generated.stderr);
    let stdout = String::from_utf8_lossy(&generated.stdout);
    assert!(generated.status.success(), "{stdout}\n{stderr}");
    // The generator warns about every construct it cannot turn into code.
    assert!(
        !stdout.contains("Warning") && !stderr.contains("Warning"),
        "{stdout}\n{stderr}"
    );

    let used = Command::new(&python)
        .current_dir(&dir)
        .args(["-c", SCRIPT])
        .arg(env.url(""))
        .output()
        .await
        .expect("python runs");
    assert!(
        used.status.success(),
        "{}",
        String::from_utf8_lossy(&used.stderr)
    );
    let out: Value = serde_json::from_slice(&used.stdout).expect("the script prints JSON");
    assert_eq!(out["start_status"], StatusCode::OK.as_u16(), "{out}");
    assert_eq!(out["start"]["status"], "completed", "{out}");
    assert_eq!(out["start"]["result"], "Ordered 2 Apples...", "{out}");
    assert_eq!(out["start"]["replayed"], false, "{out}");
    assert_eq!(out["described_type"], "ShoppingWorkflow", "{out}");
    assert_eq!(out["guide"]["result"], "Ordered 1 Cherries...", "{out}");
    assert_eq!(out["guide_status"], "COMPLETED", "{out}");
}
