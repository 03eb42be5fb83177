//! The instruction budget (`crates/bench/instruction-budget.toml`): Flowgate's API binary, built
//! beside this test (debug under `cargo test`), runs under valgrind's callgrind against the null
//! frontend; for each kind of request, the instructions per request are the difference between
//! 2N and N requests, divided by N, each phase read from a callgrind dump of the same process. A
//! figure above its budget × `max_ratio` fails (a regression), one below budget × `min_ratio`
//! fails too (update the budget to lock the improvement in: `FLOWGATE_UPDATE_BUDGET=1`).

use std::{path::Path, time::Duration};

use flowgate_testkit::{
    instructions::{self, Callgrind},
    process::{Proc, free_port},
};

const NULL_FRONTEND: &str = env!("CARGO_BIN_EXE_flowgate-null-frontend");
const BUDGET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/instruction-budget.toml");
/// Requests of the shorter phase of each kind (the longer one sends twice as many).
const N: u64 = 20;

/// A kind of request and the status it must be answered with.
struct Kind {
    key: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    status: u16,
}

const KINDS: [Kind; 4] = [
    Kind {
        key: "async_start",
        method: "POST",
        path: "/v1/workflow-types/shopping/start",
        body: Some(r#"{"input":{"items":[{"fruit":"APPLE","amount":1}]}}"#),
        status: 202,
    },
    Kind {
        key: "sync_start",
        method: "POST",
        path: "/workflows/shopping",
        body: Some(r#"{"items":[{"fruit":"APPLE","amount":1}]}"#),
        status: 200,
    },
    Kind {
        key: "result_read",
        method: "GET",
        path: "/v1/workflows/budget-done/result",
        body: None,
        status: 200,
    },
    Kind {
        key: "rejected",
        method: "POST",
        path: "/v1/workflow-types/shopping/start",
        body: Some(r#"{"input":{"items":[{"fruit":"KIWI","amount":0}]}}"#),
        status: 422,
    },
];

#[test]
fn instructions_per_request_of_the_api_stay_within_the_budget() {
    if !instructions::callgrind_available() {
        return;
    }
    // Arrange: the API binary of this build (or of FLOWGATE_INSTRUCTIONS_BIN_DIR).
    let (api, profile) = instructions::fresh_binary("flowgate-api", NULL_FRONTEND);

    // Act
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let measured = runtime.block_on(measure(&api));
    eprintln!(
        "measured in {:.0} s ({profile} build)",
        started.elapsed().as_secs_f64()
    );

    // Assert (or update)
    instructions::check_budget(BUDGET, &profile, "request", &measured);
}

/// Instructions per request of each kind, in one API process under callgrind.
async fn measure(api: &Path) -> Vec<(&'static str, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let frontend_port = free_port();
    let _frontend = Proc::spawn(
        Path::new(NULL_FRONTEND),
        &["--port", &frontend_port.to_string()],
        &[],
        dir.path().join("null-frontend.log"),
    );
    let port = free_port();
    let out = dir.path().join("callgrind.out");
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let api_arg = api.display().to_string();
    let env = [
        ("TEMPORAL_ADDRESS", format!("127.0.0.1:{frontend_port}")),
        ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
        ("FLOWGATE_API__PORT", port.to_string()),
        // The log format the Helm chart and the compose file run.
        ("FLOWGATE_LOG__FORMAT", "json".to_owned()),
        // Slow under valgrind: generous bounds, and no periodic reachability checks between the
        // measured requests.
        ("FLOWGATE_TEMPORAL__CONNECT_TIMEOUT", "60s".to_owned()),
        ("FLOWGATE_TEMPORAL__RPC_TIMEOUT", "30s".to_owned()),
        ("FLOWGATE_TEMPORAL__HEALTH_INTERVAL", "1h".to_owned()),
        ("FLOWGATE_TEMPORAL__HEALTH_TIMEOUT", "60s".to_owned()),
    ];
    let valgrind = Proc::spawn(
        Path::new("valgrind"),
        &["--tool=callgrind", "--dump-line=no", &out_arg, &api_arg],
        &env,
        dir.path().join("api.log"),
    );
    let mut callgrind = Callgrind::new(valgrind.pid().expect("valgrind runs"), &out);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    wait_connected(&http, &base, &valgrind).await;
    for kind in &KINDS {
        send(&http, &base, kind, 5).await;
    }
    let mut measured = Vec::new();
    for kind in &KINDS {
        callgrind.dump().await;
        send(&http, &base, kind, N).await;
        let once = callgrind.dump().await;
        send(&http, &base, kind, 2 * N).await;
        let twice = callgrind.dump().await;
        measured.push((kind.key, twice.saturating_sub(once) / N));
    }
    measured
}

/// Sends `count` requests of `kind`, one at a time; each must be answered as expected.
async fn send(http: &reqwest::Client, base: &str, kind: &Kind, count: u64) {
    for _ in 0..count {
        let mut request =
            http.request(kind.method.parse().unwrap(), format!("{base}{}", kind.path));
        if let Some(body) = kind.body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, kind.status, "{} answered: {text}", kind.key);
    }
}

/// Polls `GET /` until the API says it is connected to Temporal (at most 180 s: valgrind is
/// slow to start a large binary).
async fn wait_connected(http: &reqwest::Client, base: &str, api: &Proc) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(response) = http.get(format!("{base}/")).send().await
            && let Ok(root) = response.json::<serde_json::Value>().await
            && root["temporal_connected"] == true
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the API did not connect under valgrind; log:\n{}",
            api.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
