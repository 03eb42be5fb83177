//! API keys and tokens through the real `flowgate-api` binary: keys, tokens and HMAC secrets
//! stay out of its logs, problems and `check-config`; bad `[auth]` entries stop start-up;
//! `hash-key`.

use std::{path::Path, process::Stdio, time::Duration};

use flowgate_testkit::{
    TestEnv, eventually,
    process::{Proc, free_port},
};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::{
    auth::{ADMIN, SHOP, sha256_hex},
    problem,
};

const BIN: &str = env!("CARGO_BIN_EXE_flowgate-api");

fn config_file(dir: &Path, body: &str) -> String {
    let path = dir.join("auth.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

/// The API binary with the config file `config` (and `RUST_LOG`, if given) on a free port,
/// once ready; its base URL.
async fn spawn_api(env: &TestEnv, config: String, log: Option<&str>) -> (Proc, String) {
    let port = free_port();
    let mut envs = vec![
        ("TEMPORAL_ADDRESS", env.temporal.address()),
        ("FLOWGATE_CONFIG", config),
        ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
        ("FLOWGATE_API__PORT", port.to_string()),
    ];
    if let Some(log) = log {
        envs.push(("RUST_LOG", log.to_owned()));
    }
    let api = Proc::spawn(Path::new(BIN), &[], &envs, env.dir().join("api.log"));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually(
        Duration::from_secs(20),
        "the API binary to become ready",
        || async {
            let response = http.get(format!("{base}/readyz")).send().await.ok()?;
            (response.status() == StatusCode::OK).then_some(())
        },
    )
    .await;
    flowgate_testkit::temporal_connected(&http, &base, Duration::from_secs(20)).await;
    (api, base)
}

/// `[auth.jwt]` with an issuer and an audience.
const JWT: &str = "[auth.jwt]\nissuer = \"https://idp.example.test/\"\naudience = [\"flowgate\"]\n";
/// The HMAC secret of [`HS_KEY`].
const HMAC_SECRET: &str = "hmac-secret-0123456789-abcdefghij-XYZ";
/// A static HMAC token key.
const HS_KEY: &str = "[[auth.jwt.keys]]\nkid = \"hs\"\nalgorithm = \"HS256\"\nsecret = \"hmac-secret-0123456789-abcdefghij-XYZ\"\n";

fn key_toml(name: &str, sha256: &str, permissions: &str) -> String {
    format!(
        "[[auth.api_keys]]\nname = \"{name}\"\nsha256 = \"{sha256}\"\npermissions = {permissions}\n"
    )
}

#[tokio::test]
async fn the_key_never_appears_in_logs_problems_or_check_config() {
    let env = TestEnv::builder()
        .without_api()
        .without_worker()
        .start()
        .await;
    let hash = sha256_hex(ADMIN);
    let config = config_file(
        env.dir(),
        &format!(
            "[auth]\nenabled = true\n{}[auth.roles]\nreader = [\"read:*\"]\n{JWT}{HS_KEY}",
            key_toml("admin", &hash, r#"["*:*"]"#)
        ),
    );
    let (api, base) = spawn_api(&env, config.clone(), Some("debug")).await;
    let http = reqwest::Client::new();

    let ok = http
        .get(format!("{base}/v1/workflows/no-such-workflow"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let body = problem(ok, StatusCode::NOT_FOUND).await;
    assert!(!body.to_string().contains(ADMIN), "{body}");
    let started = http
        .post(format!("{base}/v1/workflows/shopping"))
        .header("x-api-key", ADMIN)
        .json(&json!({"input": {"items": [{"fruit": "APPLE", "amount": 1}]}}))
        .send()
        .await
        .unwrap();
    assert!(started.status().is_success(), "{}", started.status());
    let wrong = http
        .get(format!("{base}/v1/workflows"))
        .bearer_auth(format!("{ADMIN}x"))
        .send()
        .await
        .unwrap();
    let body = problem(wrong, StatusCode::UNAUTHORIZED).await;
    assert!(!body.to_string().contains(ADMIN), "{body}");
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("hs".to_owned()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &json!({"iss": "https://idp.example.test/", "aud": "flowgate", "sub": "svc-reports",
                "roles": ["reader"], "exp": 4_102_444_800_u64}),
        &jsonwebtoken::EncodingKey::from_secret(HMAC_SECRET.as_bytes()),
    )
    .unwrap();
    let listed = http
        .get(format!("{base}/v1/workflows"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let refused = http
        .post(format!("{base}/v1/workflows/shopping"))
        .bearer_auth(&token)
        .json(&json!({"input": {"items": [{"fruit": "APPLE", "amount": 1}]}}))
        .send()
        .await
        .unwrap();
    let body = problem(refused, StatusCode::FORBIDDEN).await;
    assert!(
        body["detail"].as_str().unwrap().contains("svc-reports"),
        "{body}"
    );
    assert!(!body.to_string().contains(&token), "{body}");

    let log = api.log_text();
    assert!(
        log.contains("/v1/workflows"),
        "the requests are logged: {log}"
    );
    assert!(!log.contains(ADMIN), "the key leaked into the log:\n{log}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !log.contains(signature),
        "the token leaked into the log:\n{log}"
    );
    assert!(
        !log.contains(HMAC_SECRET),
        "the HMAC secret leaked into the log"
    );

    let mut check = Proc::spawn(
        Path::new(BIN),
        &["--config", &config, "check-config"],
        &[],
        env.dir().join("check.log"),
    );
    let status = check.wait_exit(Duration::from_secs(20)).await;
    let output = check.log_text();
    assert!(status.success(), "{output}");
    assert!(
        output.contains("name = \"admin\"") && output.contains("[redacted]"),
        "{output}"
    );
    assert!(!output.contains(&hash), "{output}");
    assert!(!output.contains(HMAC_SECRET), "{output}");
}

#[tokio::test]
async fn a_bad_api_key_entry_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = sha256_hex("k");
    let cases = [
        (
            key_toml("ci", "not-hex", r#"["read:*"]"#),
            "auth.api_keys[ci]",
            "sha256",
        ),
        (
            format!(
                "{}{}",
                key_toml("ci", &good, r#"["read:*"]"#),
                key_toml("ci", &good, r#"["read:*"]"#)
            ),
            "auth.api_keys[ci]",
            "duplicate",
        ),
        (
            key_toml("ops", &good, r#"["delete:*"]"#),
            "auth.api_keys[ops]",
            "delete",
        ),
        (String::new(), "auth.api_keys", "neither [[auth.api_keys]]"),
        (
            key_toml("ci", &good, "[]") + "roles = [\"ops\"]\n",
            "auth.api_keys[ci]",
            "role \"ops\" is not defined",
        ),
        (
            key_toml("ci", &good, r#"["read:*"]"#) + "[auth.roles]\nops = [\"delete:*\"]\n",
            "auth.roles.ops",
            "delete",
        ),
        (
            format!("{JWT}jwks_url = \"ftp://idp.example/keys\"\n"),
            "auth.jwt.jwks_url",
            "http",
        ),
        (
            format!("[auth.jwt]\naudience = [\"a\"]\n{HS_KEY}"),
            "auth.jwt.issuer",
            "required",
        ),
        (
            format!("[auth.jwt]\nissuer = \"i\"\n{HS_KEY}"),
            "auth.jwt.audience",
            "required",
        ),
        (
            format!(
                "{JWT}[[auth.jwt.keys]]\nkid = \"k1\"\nalgorithm = \"ES256\"\npem = \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\"\n"
            ),
            "auth.jwt.keys[k1]",
            "pem",
        ),
        (
            format!(
                "{JWT}[[auth.jwt.keys]]\nalgorithm = \"HS256\"\nsecret = \"{}\"\n",
                &good[..20]
            ),
            "auth.jwt.keys[0]",
            "32 bytes",
        ),
        (
            format!("{JWT}[[auth.jwt.keys]]\nalgorithm = \"none\"\npem = \"x\"\n"),
            "auth.jwt.keys[0]",
            "algorithm",
        ),
    ];
    for (keys, key, problem) in cases {
        let config = config_file(dir.path(), &format!("[auth]\nenabled = true\n{keys}"));
        let mut proc = Proc::spawn(
            Path::new(BIN),
            &["--config", &config],
            &[],
            dir.path().join("api.log"),
        );
        let status = proc.wait_exit(Duration::from_secs(20)).await;
        let output = proc.log_text();
        assert_eq!(status.code(), Some(2), "{keys}: {output}");
        assert_eq!(output.trim().lines().count(), 1, "one line: {output}");
        assert!(
            output.contains(key) && output.contains(problem),
            "{key} / {problem}: {output}"
        );
        assert!(!output.contains(&good[..20]), "{output}");
    }
}

#[tokio::test]
async fn hash_key_prints_the_sha256_of_the_key_on_stdin() {
    let mut child = tokio::process::Command::new(BIN)
        .arg("hash-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{SHOP}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        sha256_hex(SHOP)
    );
}

/// The blocks of `language` in `text`, in order.
fn blocks<'a>(text: &'a str, language: &str) -> Vec<&'a str> {
    let fence = format!("```{language}\n");
    text.split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_authentication_guide_runs_as_written() {
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/authentication.md"),
    )
    .unwrap();
    let shell = blocks(&guide, "sh");
    let toml = blocks(&guide, "toml");

    // A key and its hash, as the guide makes them (the built binary stands in for `cargo run`).
    let make_key = shell[0].replace("cargo run -q -p flowgate-api --", BIN);
    let made = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("set -e\n{make_key}\necho \"$KEY\""))
        .output()
        .await
        .expect("sh runs");
    assert!(made.status.success(), "{made:?}");
    let out = String::from_utf8(made.stdout).unwrap();
    let mut lines = out.lines();
    let hash = lines.next().expect("the hash").to_owned();
    let key = lines.next().expect("the key").to_owned();
    assert_eq!(hash.len(), 64, "{out}");
    assert_eq!(hash, sha256_hex(&key));

    // The guide's config file, with that hash (and one for the operator's key).
    let config = toml[0]
        .replace("5f0c…e1", &hash)
        .replace("\"…\"", &format!("\"{}\"", sha256_hex(ADMIN)));
    let env = TestEnv::builder().without_api().start().await;
    let config = config_file(env.dir(), &config);
    let (_api, base) = spawn_api(&env, config, None).await;
    let http = reqwest::Client::new();

    // The guide's start, with its key: started; without the header: the 401 it shows.
    let start = shell
        .iter()
        .find(|block| block.contains("Authorization: Bearer $KEY"))
        .expect("the guide's start")
        .replace("localhost:8000", &base.replace("http://", ""));
    let run = |script: String| {
        let key = key.clone();
        async move {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "{} -o /dev/null -w '%{{http_code}}'",
                    script.trim()
                ))
                .env("KEY", key)
                .output()
                .await
                .expect("sh runs curl");
            String::from_utf8(out.stdout).unwrap()
        }
    };
    let command: String = start
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.trim_end_matches('\\'))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(run(command.clone()).await, "202", "{command}");
    let anonymous = command.replace("-H \"Authorization: Bearer $KEY\"", "");
    assert_ne!(anonymous, command);
    assert_eq!(run(anonymous).await, "401");
    // The key may start shopping workflows and read, nothing else.
    let list = http
        .get(format!("{base}/v1/workflows"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let cancel = http
        .post(format!("{base}/v1/workflows/any/cancel"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    problem(cancel, StatusCode::FORBIDDEN).await;
}
