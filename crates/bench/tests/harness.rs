//! The benchmark harness end to end, briefly: the debug binaries, a real dev server and wrk; every
//! scenario measured with no errors, and the report files written. (The numbers of such a short,
//! unoptimised run mean nothing; `crates/bench/run` publishes the real ones.)

use std::path::Path;

use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_flowgate-bench");

fn wrk_available() -> bool {
    let found = std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        flowgate_devserver::skip::missing_tool(
            "wrk",
            "apt-get install wrk",
            "FLOWGATE_REQUIRE_WRK",
        );
    }
    found
}

#[test]
fn a_short_run_measures_every_scenario_without_errors_and_writes_the_report() {
    if !wrk_available() {
        return;
    }
    let api = flowgate_testkit::process::workspace_binary(BENCH, "flowgate-api");
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(BENCH)
        .args(["--duration", "3s", "--repeat", "1", "--warmup", "1s"])
        .arg("--bin-dir")
        .arg(api.parent().unwrap())
        .arg("--out")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success(), "flowgate-bench failed");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .unwrap();
    let scenarios = results["scenarios"].as_array().unwrap();
    assert_eq!(
        scenarios.len(),
        14,
        "3×3 async starts, 4 sync starts, 1 result"
    );
    for s in scenarios {
        let m = &s["median"];
        assert_eq!(m["errors"], 0, "{s}");
        assert!(m["requests"].as_u64().unwrap() > 0, "{s}");
        assert!(m["p50_ms"].as_f64().unwrap() > 0.0, "{s}");
        assert!(
            m["p99_ms"].as_f64().unwrap() >= m["p50_ms"].as_f64().unwrap(),
            "{s}"
        );
        if s["target"] == "flowgate" {
            assert!(m["api_cpu_ms"].as_f64().unwrap() > 0.0, "{s}");
        } else {
            assert!(m["api_cpu_ms"].is_null(), "{s}");
        }
        assert!(m["temporal_cpu_ms"].as_f64().unwrap() > 0.0, "{s}");
    }
    for target in ["flowgate", "temporal-http", "temporal-grpc"] {
        assert_eq!(
            scenarios
                .iter()
                .filter(|s| s["scenario"] == "async-start" && s["target"] == target)
                .count(),
            3,
            "{target}"
        );
    }
    assert!(results["rss"]["worker_mib"].as_f64().unwrap() > 1.0);
    assert!(results["targets"].as_array().unwrap().len() >= 12);
    let md = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    for heading in [
        "## Async start",
        "## Every scenario",
        "## Targets",
        "## Memory",
    ] {
        assert!(md.contains(heading), "{heading} missing:\n{md}");
    }
    assert!(Path::new(&out.path().join("results.md")).is_file());
}
