//! Red-team attacks on the trust boundaries: each asserts the secure behaviour, and each that
//! demonstrated a hole failed before its fix.

use std::time::{Duration, Instant};

use flowgate_config::Settings;
use flowgate_testkit::TestEnv;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    auth::{ADMIN, bearer, keys},
    json, problem,
    v1_support::{approval_start, get, post, segment, shopping_start},
};

const SHOP_ONLY: &str = "attack-shop-only-key-11aa";
const VICTIM: &str = "attack-victim-key-22bb";
const SHOP_READER: &str = "attack-shop-reader-key-33cc";

fn with_keys(s: &mut Settings) {
    keys(
        s,
        &[
            ("admin", ADMIN, &["*:*"]),
            ("mallory", SHOP_ONLY, &["start:shopping"]),
            ("victim", VICTIM, &["start:shopping", "read:shopping"]),
            (
                "shop-reader",
                SHOP_READER,
                &["read:shopping", "message:shopping", "control:shopping"],
            ),
        ],
    );
}

/// `POST path` with `body` as the admin: the 202 answer.
async fn admin_starts(env: &TestEnv, path: &str, body: &Value) -> Value {
    let admin = bearer(ADMIN);
    json(
        post(env, path, Some(body), &[("authorization", &admin)]).await,
        StatusCode::ACCEPTED,
    )
    .await
}

/// Everything the server sends on `stream` until it closes or `within` passes.
async fn read_for(stream: &mut TcpStream, within: Duration) -> String {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 8192];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(within, read).await;
    String::from_utf8_lossy(&received).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Finding 1: `start` permission reads other principals' workflows (use_existing + wait).
// ---------------------------------------------------------------------------------------------

/// A key with only `start:shopping` (no `read`) joins another principal's running shopping
/// workflow with `id_conflict_policy: use_existing` and `?wait`, and is handed its result.
#[tokio::test]
async fn start_only_key_reads_another_principals_result_via_use_existing() {
    let env = TestEnv::builder().settings(with_keys).start().await;
    let victim = bearer(VICTIM);
    let mut body = shopping_start(&[("APPLE", 3)]);
    body["workflow_id"] = json!("victim-order-1");
    // Delayed, so it is still running when the attacker joins.
    body["start_delay"] = json!(2);
    json(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&body),
            &[("authorization", &victim)],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;

    // The attacker: may start shopping workflows, may NOT read any.
    let mallory = bearer(SHOP_ONLY);
    let reading = get(
        &env,
        "/v1/workflows/victim-order-1/result",
        &[("authorization", &mallory)],
    )
    .await;
    assert_eq!(
        reading.status(),
        StatusCode::FORBIDDEN,
        "no read permission"
    );

    let mut attack = shopping_start(&[("BANANA", 1)]);
    attack["workflow_id"] = json!("victim-order-1");
    attack["id_conflict_policy"] = json!("use_existing");
    let response = post(
        &env,
        "/v1/workflows/shopping?wait=20s",
        Some(&attack),
        &[("authorization", &mallory)],
    )
    .await;
    let status = response.status();
    let out: Value = response.json().await.unwrap();
    eprintln!("attacker got {status}: {out}");
    assert!(
        out["result"].is_null() && out["status"] != "completed",
        "a key without read:shopping was handed another principal's result: {status} {out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 2: another principal can squat the workflow id an Idempotency-Key derives.
// ---------------------------------------------------------------------------------------------

/// The id `Idempotency::derived_id("workflow")` gives `principal`'s `key` for `workflow`:
/// computable by anyone who knows (or guesses) the principal's name and the key.
fn derived_workflow_id(bucket: &str, workflow: &str, prefix: &str, key: &str) -> String {
    let scope = format!("{bucket}\0{workflow}");
    let scope_key: [u8; 32] = Sha256::digest(format!("{scope}\0{key}")).into();
    let mut hasher = Sha256::new();
    hasher.update(b"workflow");
    hasher.update([0]);
    hasher.update(scope_key);
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!(
        "{prefix}{}",
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    )
}

#[tokio::test]
async fn another_principal_cannot_squat_an_idempotency_keys_workflow_id() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    // Predictable keys (order numbers) are what clients use.
    let key = "order-2026-0042";
    let squatted = derived_workflow_id("key:victim", "shopping", "shopping-workflow-", key);

    // Mallory (start:shopping only) tries to start a run under the victim's future id: ids of
    // the form Flowgate makes itself cannot be chosen.
    let mallory = bearer(SHOP_ONLY);
    let mut squat = shopping_start(&[("APPLE", 1)]);
    squat["workflow_id"] = json!(squatted);
    squat["id_reuse_policy"] = json!("reject_duplicate");
    let refused = problem(
        post(
            &env,
            "/v1/workflows/shopping",
            Some(&squat),
            &[("authorization", &mallory)],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["errors"][0]["pointer"], "/workflow_id", "{refused}");

    // The victim's first, keyed start.
    let victim = bearer(VICTIM);
    let response = post(
        &env,
        "/v1/workflows/shopping",
        Some(&shopping_start(&[("CHERRY", 2)])),
        &[("authorization", &victim), ("idempotency-key", key)],
    )
    .await;
    let status = response.status();
    let out: Value = response.json().await.unwrap();
    eprintln!("victim's keyed start: {status} {out}");
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the victim's first keyed start is refused because another principal holds its id \
         (for ever: reject_duplicate): {out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 3: liveness shared the public listener's connection cap (the chart probed port http).
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn liveness_still_answers_while_a_client_holds_every_connection() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            s.api.max_connections = 2;
            s.api.idle_timeout = Duration::from_secs(30);
        })
        .start()
        .await;
    let address = env.api_addr();
    // The attacker: idle connections, renewed as they are closed.
    let _a = TcpStream::connect(&address).await.unwrap();
    let _b = TcpStream::connect(&address).await.unwrap();
    // The kubelet's probes (deploy/helm/.../api/deployment.yaml: port metrics, the admin
    // listener), with a 1 s timeout like the chart's default probe.
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    for path in ["/livez", "/readyz"] {
        let answer = probe.get(env.api_admin_url(path)).send().await;
        assert!(
            answer.is_ok_and(|r| r.status() == StatusCode::OK),
            "{path} does not answer while the connection cap is held: the kubelet restarts the pod"
        );
    }
    let chart = include_str!("../../../../deploy/helm/flowgate/templates/api/deployment.yaml");
    assert!(
        !chart.contains("port: http\n"),
        "the chart must probe the admin listener, not the public port"
    );
}

// ---------------------------------------------------------------------------------------------
// Held: path tricks, methods, aliases do not reach another type's workflow.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn path_tricks_do_not_reach_a_workflow_of_another_type() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    let admin = bearer(ADMIN);
    let mut order = approval_start("Victim Corp");
    order["workflow_id"] = json!("victim/oa 1");
    admin_starts(&env, "/v1/workflows/order-approval", &order).await;
    let reader = bearer(SHOP_READER);
    let auth = [("authorization", reader.as_str())];
    let id = segment("victim/oa 1");
    let client = &env.http;
    let mut answers = Vec::new();
    for (method, path) in [
        ("GET", format!("/v1/workflows/{id}")),
        ("HEAD", format!("/v1/workflows/{id}")),
        ("GET", format!("/v1/workflows/{id}/result?wait=1")),
        ("GET", format!("/workflows/{id}/status")),
        ("GET", format!("/workflows/{id}/result")),
        ("GET", "/v1/workflows/victim%2Foa%201".to_owned()),
        ("GET", "/v1/workflows/victim%2foa%201".to_owned()),
        ("GET", "/v1/workflows/%76ictim%2Foa%201".to_owned()),
        ("GET", "/v1/workflows/victim/oa%201".to_owned()),
        ("GET", format!("/v1/workflows/{id}/")),
        ("GET", format!("//v1/workflows/{id}")),
        ("GET", format!("/v1//workflows/{id}")),
        ("GET", format!("/v1/workflows/x/../{id}")),
        ("GET", format!("/V1/workflows/{id}")),
        ("OPTIONS", format!("/v1/workflows/{id}")),
        ("PUT", format!("/v1/workflows/{id}")),
        ("DELETE", format!("/v1/workflows/{id}")),
        ("POST", format!("/v1/workflows/{id}/signals/approve")),
        ("POST", format!("/v1/workflows/{id}/queries/status")),
        ("POST", format!("/v1/workflows/{id}/updates/add_note")),
        ("POST", format!("/v1/workflows/{id}/cancel")),
        ("POST", format!("/v1/workflows/{id}/terminate")),
        ("POST", format!("/v1/workflows/{id}/terminate/")),
        (
            "GET",
            "/v1/workflows?query=WorkflowType%3D%27ShoppingWorkflow%27".to_owned(),
        ),
        ("POST", "/v1/workflows/OrderApprovalWorkflow".to_owned()),
        ("POST", "/v1/workflows/order-approval%20".to_owned()),
        ("POST", "/v1/workflows/Order-Approval".to_owned()),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = client.request(method.clone(), env.url(&path));
        for (name, value) in auth {
            request = request.header(name, value);
        }
        if method == reqwest::Method::POST {
            request = request.json(&json!({"input": {}}));
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        eprintln!("{method} {path} -> {status} {body}");
        assert!(
            status.is_client_error() && status != StatusCode::CONFLICT,
            "{method} {path} -> {status} {body}"
        );
        assert!(
            !body.contains("OrderApproval") || path.contains("OrderApproval"),
            "{method} {path} reveals the type: {body}"
        );
        answers.push((status, body));
    }
    // Untouched.
    let out = json(
        get(
            &env,
            &format!("/v1/workflows/{id}"),
            &[("authorization", &admin)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(out["status"], "running", "{out}");

    // Exists with another type vs does not exist: the same answer, the id aside.
    let exists = problem(
        get(&env, &format!("/v1/workflows/{id}"), &auth).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let missing = problem(
        get(
            &env,
            &format!("/v1/workflows/{}", segment("victim/oa 2")),
            &auth,
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        exists["detail"].as_str().unwrap().replace("oa 1", "oa 2"),
        missing["detail"]
    );
    assert_eq!(exists["code"], missing["code"]);

    // A 255-character id of 4-byte characters (1020 bytes, over Temporal's limit): no 5xx.
    let long = "\u{1F600}".repeat(255);
    for key in [reader.as_str(), admin.as_str()] {
        let response = get(
            &env,
            &format!("/v1/workflows/{}", segment(&long)),
            &[("authorization", key)],
        )
        .await;
        let status = response.status();
        let body = response.text().await.unwrap();
        eprintln!("long id -> {status} {body}");
        assert!(!status.is_server_error(), "{status} {body}");
    }
}

// ---------------------------------------------------------------------------------------------
// Held: X-Forwarded-For is ignored for the failed-auth limit unless trusted.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn forwarded_for_does_not_reset_the_failed_auth_limit_when_untrusted() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            with_keys(s);
            s.limits.failed_auth_per_minute = 3;
            s.limits.trust_forwarded_for = false;
        })
        .start()
        .await;
    for i in 0..3 {
        let xff = format!("198.51.100.{i}");
        let response = get(
            &env,
            "/v1/workflows",
            &[("authorization", "Bearer nope"), ("x-forwarded-for", &xff)],
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    for xff in ["198.51.100.77", "10.0.0.1, 198.51.100.78", "::1"] {
        let response = get(
            &env,
            "/v1/workflows",
            &[("authorization", "Bearer nope"), ("x-forwarded-for", xff)],
        )
        .await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{xff}");
    }
}

// ---------------------------------------------------------------------------------------------
// Held: a slow body does not hold a concurrency slot past api.request_timeout.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_slow_body_gives_its_slot_back_at_the_request_timeout() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            s.api.result_wait = Duration::from_secs(1);
            s.api.request_timeout = Duration::from_secs(3);
            s.limits.max_concurrent_per_client = 1;
        })
        .start()
        .await;
    let mut slow = TcpStream::connect(env.api_addr()).await.unwrap();
    slow.write_all(
        b"POST /v1/workflows/shopping HTTP/1.1\r\nHost: flowgate\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"in",
    )
    .await
    .unwrap();
    flowgate_testkit::eventually(
        Duration::from_secs(5),
        "the slow body to hold the client's only slot",
        || async {
            let held = get(&env, "/v1/workflows", &[]).await;
            (held.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(())
        },
    )
    .await;
    let started = Instant::now();
    // Trickle a byte a second (the attack's own pace): never finishes.
    let mut answer = String::new();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if slow.write_all(b" ").await.is_err() {
            break;
        }
        let mut buffer = [0u8; 4096];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(10), slow.read(&mut buffer)).await
        {
            answer.push_str(&String::from_utf8_lossy(&buffer[..n]));
            if n == 0 || !answer.is_empty() {
                break;
            }
        }
    }
    eprintln!("slow body answered after {:?}: {answer}", started.elapsed());
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    let after = get(&env, "/v1/workflows", &[]).await;
    assert_ne!(
        after.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "slot given back"
    );
    // And the connection is not kept for further trickling.
    let rest = read_for(&mut slow, Duration::from_secs(2)).await;
    eprintln!("after the 504: {rest:?}");
}

// ---------------------------------------------------------------------------------------------
// HTTP-level: smuggling ambiguities, HTTP/2 prior knowledge, absolute-form targets.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn http_framing_ambiguities_are_refused() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    let address = env.api_addr();
    let exchange = |raw: Vec<u8>| async move {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(&raw).await.unwrap();
        read_for(&mut stream, Duration::from_secs(2)).await
    };
    let admin = format!("Authorization: Bearer {ADMIN}\r\n");
    // CL + TE: a front proxy using Content-Length would forward the second request as body.
    let smuggle = format!(
        "POST /v1/workflows/shopping/cancel HTTP/1.1\r\nHost: x\r\n{admin}Content-Type: application/json\r\nContent-Length: 60\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/workflows HTTP/1.1\r\nHost: x\r\n{admin}\r\n"
    );
    let answer = exchange(smuggle.into_bytes()).await;
    eprintln!("CL+TE -> {answer}");
    let responses = answer.matches("HTTP/1.1 ").count();
    // RFC 9112 6.1: a server that gets both MUST close the connection after responding.
    assert!(
        responses <= 1,
        "a request with Content-Length and Transfer-Encoding kept the connection: {responses} responses"
    );

    // Two Content-Lengths.
    let answer = exchange(
        b"POST /v1/workflows/shopping HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}"
            .to_vec(),
    )
    .await;
    eprintln!("CL,CL -> {answer}");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // HTTP/2 prior knowledge.
    let answer = exchange(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0".to_vec()).await;
    eprintln!("h2c -> {answer:?}");
    assert!(!answer.contains(" 200"), "{answer}");

    // Absolute-form: routed by its path only; no host confusion.
    let answer = exchange(
        b"GET http://evil.example/v1/workflows HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            .to_vec(),
    )
    .await;
    eprintln!("absolute-form -> {}", answer.lines().next().unwrap_or(""));
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

// ---------------------------------------------------------------------------------------------
// Finding 1b: `start` on a closed workflow's id replaces the run everyone reads by that id.
// ---------------------------------------------------------------------------------------------

/// A key with only `start:shopping` starts a new run under another principal's (closed) id;
/// the owner's `GET /v1/workflows/{id}/result` then answers with the attacker's run.
#[tokio::test]
async fn start_only_key_cannot_replace_the_result_another_principal_reads() {
    let env = TestEnv::builder().settings(with_keys).start().await;
    let victim = bearer(VICTIM);
    let mut body = shopping_start(&[("APPLE", 3)]);
    body["workflow_id"] = json!("victim-order-2");
    let first = json(
        post(
            &env,
            "/v1/workflows/shopping?wait=20s",
            Some(&body),
            &[("authorization", &victim)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["result"], "Ordered 3 Apples...", "{first}");

    let mallory = bearer(SHOP_ONLY);
    let mut attack = shopping_start(&[("BANANA", 99)]);
    attack["workflow_id"] = json!("victim-order-2");
    attack["id_reuse_policy"] = json!("allow_duplicate");
    let replaced = post(
        &env,
        "/v1/workflows/shopping?wait=20s",
        Some(&attack),
        &[("authorization", &mallory)],
    )
    .await;
    eprintln!("attacker's start on the victim's id: {}", replaced.status());

    let read = json(
        get(
            &env,
            "/v1/workflows/victim-order-2/result",
            &[("authorization", &victim)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    eprintln!("the victim now reads: {read}");
    assert_eq!(
        read["result"], first["result"],
        "another principal replaced the run the owner reads by its id: {read}"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 4: terminate_existing without `control` when the checked run was closed (race).
// ---------------------------------------------------------------------------------------------

/// `start_chosen_id` checks `control` only when the described run is running; when it is
/// closed, `terminate_existing` goes to Temporal as is, and terminates whatever run started with
/// the id meanwhile. A key with only `start:shopping` races a legitimate restart of the id.
#[tokio::test]
async fn terminate_existing_never_terminates_without_control() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    let admin = bearer(ADMIN);
    let victim = bearer(VICTIM);
    let mallory = bearer(SHOP_ONLY);
    let mut terminated_by_mallory = Vec::new();
    for i in 0..30 {
        let id = format!("race-{i}");
        let mut body = shopping_start(&[("APPLE", 1)]);
        body["workflow_id"] = json!(id);
        // A closed run of the id, of the same type.
        admin_starts(&env, "/v1/workflows/shopping", &body).await;
        json(
            post(
                &env,
                &format!("/v1/workflows/{id}/terminate"),
                None,
                &[("authorization", &admin)],
            )
            .await,
            StatusCode::OK,
        )
        .await;
        let mut attack = body.clone();
        attack["id_conflict_policy"] = json!("terminate_existing");
        let offset = Duration::from_millis((i % 6) as u64 * 2);
        let victim_start = {
            let request = env
                .http
                .post(env.url("/v1/workflows/shopping"))
                .header("authorization", &victim)
                .json(&body);
            tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                request.send().await.unwrap()
            })
        };
        let attack_start = env
            .http
            .post(env.url("/v1/workflows/shopping"))
            .header("authorization", &mallory)
            .json(&attack)
            .send()
            .await
            .unwrap();
        let victim_start = victim_start.await.unwrap();
        let (v, a) = (victim_start.status(), attack_start.status());
        let v_out: Value = victim_start.json().await.unwrap();
        let a_out: Value = attack_start.json().await.unwrap();
        if v == StatusCode::ACCEPTED && a == StatusCode::ACCEPTED {
            // Both started: the later one terminated the earlier (terminate_existing); the
            // victim's start uses `fail`, so the attacker's came later.
            eprintln!("{id}: victim {v_out} / attacker {a_out}");
            // The admin's list of the id's runs: the victim's run was terminated.
            let victim_run = v_out["run_id"].as_str().unwrap().to_owned();
            let query = segment(&format!("WorkflowId='{id}'"));
            let status = flowgate_testkit::eventually(
                Duration::from_secs(10),
                "the victim's run in the list",
                || {
                    let (admin, query, victim_run) =
                        (admin.clone(), query.clone(), victim_run.clone());
                    let env = &env;
                    async move {
                        let list = get(
                            env,
                            &format!("/v1/workflows?query={query}"),
                            &[("authorization", &admin)],
                        )
                        .await;
                        let list: Value = list.json().await.ok()?;
                        list["workflows"]
                            .as_array()?
                            .iter()
                            .find(|w| w["run_id"] == victim_run.as_str())
                            .map(|w| w["status"].as_str().unwrap_or("").to_owned())
                            .filter(|s| s != "running")
                    }
                },
            )
            .await;
            eprintln!("{id}: the victim's run {victim_run} is {status}");
            terminated_by_mallory.push(format!("{id} ({status})"));
        }
    }
    assert!(
        terminated_by_mallory.is_empty(),
        "a key without control:shopping terminated running workflows: {terminated_by_mallory:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 5: a start tells a run of another type from a running one of its own type.
// ---------------------------------------------------------------------------------------------

/// security.md: a run of another type makes the start a 409 "and the answer says nothing of
/// that run (not its type, not its state)". With `terminate_existing`, a key without `control`
/// gets a 403 for a running run of its own type and a 409 for another type's: the type of any id
/// (and, for its own type, the state) is one request away, without starting anything.
#[tokio::test]
async fn a_start_does_not_tell_another_types_run_from_a_running_one_of_its_own() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(with_keys)
        .start()
        .await;
    let mut order = approval_start("Victim Corp");
    order["workflow_id"] = json!("probe-a");
    admin_starts(&env, "/v1/workflows/order-approval", &order).await;
    let mut shop = shopping_start(&[("APPLE", 1)]);
    shop["workflow_id"] = json!("probe-b");
    admin_starts(&env, "/v1/workflows/shopping", &shop).await;
    let mallory = bearer(SHOP_ONLY);
    let mut answers = Vec::new();
    for id in ["probe-a", "probe-b"] {
        let mut probe = shopping_start(&[("APPLE", 1)]);
        probe["workflow_id"] = json!(id);
        probe["id_conflict_policy"] = json!("terminate_existing");
        let response = post(
            &env,
            "/v1/workflows/shopping",
            Some(&probe),
            &[("authorization", &mallory)],
        )
        .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        eprintln!("{id}: {status} {body}");
        answers.push((status, body["code"].clone()));
    }
    assert_eq!(
        answers[0], answers[1],
        "another type's running run and a running run of the key's own type are told apart"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 6: the failed-auth limiter's eviction is O(clients) under a mutex every guarded
// request takes.
// ---------------------------------------------------------------------------------------------

// (Its eviction cost is covered by `protect::rate`'s unit test: one sweep per tenth of the room.)

// ---------------------------------------------------------------------------------------------
// Finding 7: a client that does not read its answers holds its connection for ever.
// ---------------------------------------------------------------------------------------------

/// `api.idle_timeout` closes connections that are slow to send or idle, but nothing bounds
/// a write: a client pipelines requests to an open route (`/openapi.json`, 115 KB, or `/livez`)
/// and never reads. Once the socket buffers are full the server's write blocks, no timer runs,
/// and the connection (and its `api.max_connections` permit) is held for as long as the client
/// likes. `max_connections` such sockets shut the API (and the kubelet's probes) out; a drain
/// then waits for them until the grace period ends.
#[tokio::test]
async fn a_client_that_never_reads_does_not_hold_its_connection_for_ever() {
    let env = TestEnv::builder()
        .without_worker()
        .settings(|s| {
            s.api.max_connections = 1;
            s.api.idle_timeout = Duration::from_secs(1);
        })
        .start()
        .await;
    let address = env.api_addr();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(address).await.unwrap();
    let request = b"GET /openapi.json HTTP/1.1\r\nHost: flowgate\r\n\r\n";
    let pipelined: Vec<u8> = request
        .iter()
        .copied()
        .cycle()
        .take(request.len() * 64)
        .collect();
    stalled.write_all(&pipelined).await.unwrap();
    // Never read: once the socket buffers are full the answer's write stalls, and after
    // idle_timeout the connection (and its only permit) must be given up.
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    flowgate_testkit::eventually(
        Duration::from_secs(15),
        "/livez to answer past a client that stopped reading",
        || async {
            let answer = probe.get(env.url("/livez")).send().await.ok()?;
            (answer.status() == StatusCode::OK).then_some(())
        },
    )
    .await;
    drop(stalled);
}
