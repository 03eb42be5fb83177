//! The instruction budget (`crates/bench/instruction-budget.toml`): Flowgate's API binary, built
//! beside this test (debug under `cargo test`), runs under valgrind's callgrind against the null
//! frontend; for each kind of request, the instructions per request are the difference between
//! 2N and N requests, divided by N, each phase read from a callgrind dump of the same process. A
//! figure above its budget × `max_ratio` fails (a regression), one below budget × `min_ratio`
//! fails too (update the budget to lock the improvement in: `FLOWGATE_UPDATE_BUDGET=1`).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use flowgate_testkit::process::{Proc, free_port};

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

fn tools_available() -> bool {
    let runs = |tool: &str, arg: &str| {
        std::process::Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let found = runs("valgrind", "--version") && runs("callgrind_control", "-h");
    if !found {
        flowgate_devserver::skip::missing_tool(
            "valgrind",
            "apt-get install valgrind",
            "FLOWGATE_REQUIRE_VALGRIND",
        );
    }
    found
}

#[test]
fn instructions_per_request_of_the_api_stay_within_the_budget() {
    if !tools_available() {
        return;
    }
    // Arrange: the API binary of this build (or of FLOWGATE_INSTRUCTIONS_BIN_DIR).
    // A relative directory is the workspace's (`target/release`).
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin_dir = std::env::var_os("FLOWGATE_INSTRUCTIONS_BIN_DIR").map_or_else(
        || Path::new(NULL_FRONTEND).with_file_name(""),
        |dir| workspace.join(dir),
    );
    let api = bin_dir.join("flowgate-api");
    assert!(
        api.is_file(),
        "{} is missing: build it first (`cargo build -p flowgate-api`)",
        api.display()
    );
    let profile = bin_dir
        .components()
        .next_back()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let budget_text = std::fs::read_to_string(BUDGET).unwrap();
    let budget: toml::Table = toml::from_str(&budget_text).unwrap();

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
    if std::env::var("FLOWGATE_UPDATE_BUDGET").is_ok_and(|v| v == "1") {
        std::fs::write(BUDGET, updated(&budget_text, &profile, &measured)).unwrap();
        eprintln!("updated {BUDGET} [{profile}]: {measured:?}");
        return;
    }
    let ratio = |key: &str| budget[key].as_float().unwrap();
    let (max_ratio, min_ratio) = (ratio("max_ratio"), ratio("min_ratio"));
    let section = budget
        .get(&profile)
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| {
            panic!("{BUDGET} has no [{profile}] section: add it with FLOWGATE_UPDATE_BUDGET=1")
        });
    let mut report = String::new();
    let mut failures = Vec::new();
    for (key, per_request) in &measured {
        let allowed = section
            .get(*key)
            .and_then(toml::Value::as_integer)
            .unwrap_or(0) as f64;
        let r = *per_request as f64 / allowed.max(1.0);
        report.push_str(&format!(
            "{key:<12} {per_request:>12} instructions/request, budget {allowed:>12.0} ({r:.3}×)\n"
        ));
        if r > max_ratio {
            failures.push(format!("{key}: {r:.3}× the budget (above {max_ratio}×)"));
        } else if r < min_ratio {
            failures.push(format!(
                "{key}: {r:.3}× the budget (below {min_ratio}×): lock the improvement in with FLOWGATE_UPDATE_BUDGET=1"
            ));
        }
    }
    eprint!("{report}");
    assert!(
        failures.is_empty(),
        "instruction budget ({BUDGET}, [{profile}]):\n{report}{}",
        failures.join("\n")
    );
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
    let pid = valgrind.pid().expect("valgrind runs");
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
    let mut dumps = 0;
    let mut measured = Vec::new();
    for kind in &KINDS {
        dump(pid, &out, &mut dumps).await;
        send(&http, &base, kind, N).await;
        let once = dump(pid, &out, &mut dumps).await;
        send(&http, &base, kind, 2 * N).await;
        let twice = dump(pid, &out, &mut dumps).await;
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

/// Asks callgrind for a dump (its counters restart from zero) and returns the instructions it
/// holds.
async fn dump(pid: u32, out: &Path, dumps: &mut u32) -> u64 {
    let status = tokio::process::Command::new("callgrind_control")
        .arg("-d")
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(
        status.success(),
        "callgrind_control -d failed (it reaches the process through ptrace: as root, or with \
         kernel.yama.ptrace_scope = 0)"
    );
    *dumps += 1;
    let file = PathBuf::from(format!("{}.{dumps}", out.display()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if let Some(total) = text.lines().find_map(|l| l.strip_prefix("totals: ")) {
            return total.split_whitespace().next().unwrap().parse().unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dump in {} (callgrind_control reaches the process through ptrace: as root, or \
             with kernel.yama.ptrace_scope = 0)",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
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

/// The budget file with `[profile]`'s figures replaced by `measured` (comments kept; the
/// section and keys are added when missing).
fn updated(text: &str, profile: &str, measured: &[(&str, u64)]) -> String {
    let header = format!("[{profile}]");
    let mut out: Vec<String> = Vec::new();
    let mut in_section = false;
    // Where the section's last key/value line went: missing keys follow it.
    let mut section_end = None;
    let mut written: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            in_section = line.trim() == header;
        }
        let key = line.split('=').next().unwrap_or_default().trim();
        match measured.iter().find(|(k, _)| *k == key) {
            Some((k, value)) if in_section => {
                out.push(format!("{k} = {value}"));
                written.push(k);
            }
            _ => out.push(line.to_owned()),
        }
        if in_section && (line.trim() == header || line.contains('=')) {
            section_end = Some(out.len());
        }
    }
    let missing = measured
        .iter()
        .filter(|(k, _)| !written.contains(k))
        .map(|(k, v)| format!("{k} = {v}"));
    match section_end {
        Some(end) => {
            let tail = out.split_off(end);
            out.extend(missing);
            out.extend(tail);
        }
        None => {
            out.push(String::new());
            out.push(header);
            out.extend(missing);
        }
    }
    out.join("\n") + "\n"
}

#[test]
fn an_update_rewrites_only_the_measured_section() {
    let text = "# c\nmax_ratio = 1.15\n\n[debug]\nasync_start = 1\nrejected = 2\n";
    let new = updated(text, "debug", &[("async_start", 10), ("rejected", 20)]);
    assert_eq!(
        new,
        "# c\nmax_ratio = 1.15\n\n[debug]\nasync_start = 10\nrejected = 20\n"
    );
    let added = updated(text, "debug", &[("sync_start", 3)]);
    assert_eq!(
        added,
        "# c\nmax_ratio = 1.15\n\n[debug]\nasync_start = 1\nrejected = 2\nsync_start = 3\n"
    );
    let release = updated(text, "release", &[("async_start", 5)]);
    assert!(
        release.ends_with("[debug]\nasync_start = 1\nrejected = 2\n\n[release]\nasync_start = 5\n"),
        "{release}"
    );
}
