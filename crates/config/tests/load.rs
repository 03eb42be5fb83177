//! Loading and validating settings from defaults, files and the environment.

use std::{collections::HashMap, io::Write, time::Duration};

use clap::Parser;
use flowgate_config::{ConfigArgs, LogFormat, load_files_from, load_from};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

#[test]
fn defaults_match_the_guide() {
    let s = load_from(None, &env(&[])).unwrap();
    assert_eq!(s.api.port, 8000);
    assert_eq!(s.api.body_limit_bytes, 1024 * 1024);
    assert_eq!(s.worker.task_queue, "shopping-tasks");
    assert_eq!(
        s.temporal.address, None,
        "Temporal's own conventions decide by default"
    );
    assert_eq!(s.log.format, LogFormat::Pretty);
}

#[test]
fn file_overrides_defaults_and_environment_overrides_file() {
    let f =
        file("[api]\nport = 9000\nresult_wait = \"7s\"\n[shopping]\ntask_queue = \"from-file\"\n");
    let s = load_from(
        Some(f.path()),
        &env(&[("FLOWGATE_SHOPPING__TASK_QUEUE", "from-env")]),
    )
    .unwrap();
    assert_eq!(s.api.port, 9000);
    assert_eq!(s.api.result_wait, Duration::from_secs(7));
    assert_eq!(s.worker.task_queue, "from-env");
}

#[test]
fn later_config_files_override_earlier_ones_and_the_environment_wins_over_all() {
    // A deployment's settings, then its credentials layered over them (as the Helm chart mounts
    // a Secret's file after its ConfigMap's).
    let settings = file(&format!(
        r#"
[api]
port = 9000
result_wait = "7s"
[auth]
enabled = true
[auth.jwt]
jwks_url = "https://idp.example.com/jwks.json"
issuer = "https://old.example.com/"
audience = ["flowgate"]
[[auth.api_keys]]
name = "old-one"
sha256 = "{}"
permissions = ["read:*"]
[[auth.api_keys]]
name = "old-two"
sha256 = "{}"
permissions = ["read:*"]
"#,
        "aa".repeat(32),
        "bb".repeat(32)
    ));
    let credentials = file(&format!(
        r#"
[api]
port = 9100
[auth.jwt]
issuer = "https://idp.example.com/"
[[auth.api_keys]]
name = "rotated"
sha256 = "{}"
permissions = ["start:shopping"]
"#,
        "cc".repeat(32)
    ));
    let s = load_files_from(
        &[settings.path(), credentials.path()],
        &env(&[("FLOWGATE_API__RESULT_WAIT", "9s")]),
    )
    .unwrap();
    assert_eq!(s.api.port, 9100, "the later file wins");
    assert_eq!(
        s.api.result_wait,
        Duration::from_secs(9),
        "the environment wins over every file"
    );
    assert!(s.auth.enabled, "keys only the earlier file sets stay");
    assert_eq!(
        s.auth.jwt.jwks_url.as_deref(),
        Some("https://idp.example.com/jwks.json"),
        "tables merge key by key"
    );
    assert_eq!(s.auth.jwt.issuer, "https://idp.example.com/");
    let names: Vec<&str> = s.auth.api_keys.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["rotated"], "a list is replaced whole, not merged");

    // The other order: the earlier file loses.
    let s = load_files_from(&[credentials.path(), settings.path()], &env(&[])).unwrap();
    assert_eq!(s.api.port, 9000);
    assert_eq!(s.auth.jwt.issuer, "https://old.example.com/");
    assert_eq!(s.auth.api_keys.len(), 2);
}

#[test]
fn several_config_files_are_named_by_repeating_the_flag_or_separating_paths_with_colons() {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: ConfigArgs,
    }
    let first = file("[api]\nport = 9000\n");
    let second = file("[api]\nport = 9100\n");
    let (a, b) = (
        first.path().display().to_string(),
        second.path().display().to_string(),
    );
    for args in [
        vec!["flowgate".to_owned(), "--config".into(), format!("{a}:{b}")],
        vec![
            "flowgate".to_owned(),
            "-c".into(),
            a.clone(),
            "-c".into(),
            b.clone(),
        ],
    ] {
        let cli = Cli::try_parse_from(&args).unwrap();
        assert_eq!(cli.config.config, [first.path(), second.path()], "{args:?}");
        // A missing file among them stops start-up naming it.
        let missing = Cli::try_parse_from([
            "flowgate",
            "--config",
            &format!("{a}:/nonexistent/auth.toml"),
        ])
        .unwrap();
        let error = missing.config.load().unwrap_err().to_string();
        assert!(error.contains("/nonexistent/auth.toml"), "{error}");
    }
}

#[test]
fn the_worker_task_queue_keeps_its_old_name_as_an_alias() {
    let s = load_from(None, &env(&[("FLOWGATE_WORKER__TASK_QUEUE", "new-name")])).unwrap();
    assert_eq!(s.worker.task_queue, "new-name");
    let s = load_from(None, &env(&[("FLOWGATE_SHOPPING__TASK_QUEUE", "old-name")])).unwrap();
    assert_eq!(s.worker.task_queue, "old-name");
    let same = env(&[
        ("FLOWGATE_SHOPPING__TASK_QUEUE", "q"),
        ("FLOWGATE_WORKER__TASK_QUEUE", "q"),
    ]);
    assert_eq!(load_from(None, &same).unwrap().worker.task_queue, "q");
    let both = env(&[
        ("FLOWGATE_SHOPPING__TASK_QUEUE", "old"),
        ("FLOWGATE_WORKER__TASK_QUEUE", "new"),
    ]);
    let err = load_from(None, &both).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid configuration: shopping.task_queue: is the old name of worker.task_queue, which is set to \"new\"; set only worker.task_queue"
    );
}

#[test]
fn guide_variables_are_aliases() {
    let s = load_from(
        None,
        &env(&[
            ("API_PORT", "8001"),
            ("TEMPORAL_HOST", "temporal:7233"),
            ("TEMPORAL_NAMESPACE", "shop"),
        ]),
    )
    .unwrap();
    assert_eq!(s.api.port, 8001);
    assert_eq!(s.temporal.address.as_deref(), Some("temporal:7233"));
    assert_eq!(s.temporal.namespace.as_deref(), Some("shop"));
}

#[test]
fn flowgate_variables_beat_guide_aliases() {
    let s = load_from(
        None,
        &env(&[("API_PORT", "8001"), ("FLOWGATE_API__PORT", "8002")]),
    )
    .unwrap();
    assert_eq!(s.api.port, 8002);
}

#[test]
fn temporal_address_wins_over_the_temporal_host_alias() {
    let s = load_from(
        None,
        &env(&[
            ("TEMPORAL_HOST", "old:7233"),
            ("TEMPORAL_ADDRESS", "new:7233"),
        ]),
    )
    .unwrap();
    assert_eq!(
        s.temporal.address, None,
        "TEMPORAL_ADDRESS is applied by Temporal's envconfig"
    );
}

#[test]
fn a_wrong_type_names_the_key() {
    let err = load_from(None, &env(&[("FLOWGATE_API__PORT", "eighty")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("api.port"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}

#[test]
fn an_out_of_range_value_names_the_key_and_the_problem() {
    let err = load_from(None, &env(&[("FLOWGATE_SHOPPING__MAX_ITEMS", "0")]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid configuration: shopping.max_items: must be between 1 and 10000, got 0"
    );
}

#[test]
fn a_bad_duration_names_the_key() {
    let err = load_from(None, &env(&[("FLOWGATE_API__RESULT_WAIT", "soon")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("api.result_wait"), "{err}");
}

#[test]
fn a_bad_temporal_address_is_rejected() {
    let err = load_from(None, &env(&[("FLOWGATE_TEMPORAL__ADDRESS", "no-port")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("temporal.address"), "{err}");
}

#[test]
fn a_mistyped_variable_is_rejected_instead_of_ignored() {
    let err = load_from(None, &env(&[("FLOWGATE_API_PORT", "9000")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("FLOWGATE_API_PORT"), "{err}");
}

#[test]
fn an_unknown_key_in_a_file_is_rejected() {
    let f = file("[api]\nprot = 9000\n");
    let err = load_from(Some(f.path()), &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("prot"), "{err}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let err = load_from(Some("/nonexistent/flowgate.toml".as_ref()), &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/flowgate.toml"), "{err}");
}

#[test]
fn a_bad_log_filter_is_rejected() {
    let err = load_from(None, &env(&[("FLOWGATE_LOG__LEVEL", "info,[")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("log.level"), "{err}");
}

#[test]
fn secrets_are_redacted_in_the_rendered_config() {
    let s = load_from(None, &env(&[("FLOWGATE_TEMPORAL__API_KEY", "s3cr3t-key")])).unwrap();
    assert_eq!(s.temporal.api_key.as_ref().unwrap().expose(), "s3cr3t-key");
    let rendered = s.to_redacted_toml();
    assert!(!rendered.contains("s3cr3t-key"), "{rendered}");
    assert!(rendered.contains("[redacted]"), "{rendered}");
}

#[test]
fn an_unknown_otlp_protocol_is_rejected() {
    let err = load_from(None, &env(&[("FLOWGATE_OTEL__PROTOCOL", "carrier-pigeon")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("otel.protocol"), "{err}");
}

#[test]
fn token_verification_is_configured_from_the_environment() {
    let s = load_from(
        None,
        &env(&[
            ("FLOWGATE_AUTH__ENABLED", "true"),
            (
                "FLOWGATE_AUTH__JWT__JWKS_URL",
                "https://idp.example/jwks.json",
            ),
            ("FLOWGATE_AUTH__JWT__ISSUER", "https://idp.example/"),
            ("FLOWGATE_AUTH__JWT__AUDIENCE", "flowgate,flowgate-staging"),
            ("FLOWGATE_AUTH__JWT__CLOCK_SKEW", "15s"),
            ("FLOWGATE_AUTH__JWT__ROLES_CLAIM", "realm_access.roles"),
        ]),
    )
    .unwrap();
    let jwt = &s.auth.jwt;
    assert!(jwt.is_configured());
    assert_eq!(jwt.audience, ["flowgate", "flowgate-staging"]);
    assert_eq!(jwt.clock_skew, Duration::from_secs(15));
    assert_eq!(jwt.roles_claim, "realm_access.roles");
    assert_eq!(jwt.subject_claim, "sub");

    let err = load_from(
        None,
        &env(&[
            ("FLOWGATE_AUTH__ENABLED", "true"),
            (
                "FLOWGATE_AUTH__JWT__JWKS_URL",
                "https://idp.example/jwks.json",
            ),
            ("FLOWGATE_AUTH__JWT__ISSUER", "https://idp.example/"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("auth.jwt.audience"), "{err}");
}

#[test]
fn the_default_token_settings_are_those_of_the_default_file() {
    let s = load_from(None, &env(&[])).unwrap();
    assert_eq!(
        toml::to_string(&s.auth.jwt).unwrap(),
        toml::to_string(&flowgate_config::JwtSettings::default()).unwrap()
    );
    assert!(!s.auth.jwt.is_configured());
}

#[test]
fn both_services_run_on_one_thread_unless_told_otherwise() {
    let s = load_from(None, &env(&[])).unwrap();
    assert_eq!((s.api.runtime_threads, s.worker.runtime_threads), (1, 1));
    let s = load_from(
        None,
        &env(&[
            ("FLOWGATE_API__RUNTIME_THREADS", "0"),
            ("FLOWGATE_WORKER__RUNTIME_THREADS", "4"),
        ]),
    )
    .unwrap();
    assert_eq!((s.api.runtime_threads, s.worker.runtime_threads), (0, 4));
    let err = load_from(None, &env(&[("FLOWGATE_WORKER__RUNTIME_THREADS", "5000")]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid configuration: worker.runtime_threads: must be between 0 and 1024, got 5000"
    );
}

/// `[auth.jwt]` verifying tokens against the key set at `url`, plus `extra` variables.
fn jwks_env(url: &str, extra: &[(&'static str, &'static str)]) -> HashMap<String, String> {
    let mut vars = env(&[
        ("FLOWGATE_AUTH__ENABLED", "true"),
        ("FLOWGATE_AUTH__JWT__ISSUER", "https://idp.example/"),
        ("FLOWGATE_AUTH__JWT__AUDIENCE", "flowgate"),
    ]);
    vars.insert("FLOWGATE_AUTH__JWT__JWKS_URL".to_owned(), url.to_owned());
    vars.extend(env(extra));
    vars
}

#[test]
fn a_key_set_over_plain_http_is_refused_unless_allowed_for_development() {
    let err = load_from(None, &jwks_env("http://idp.example/jwks.json", &[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("auth.jwt.jwks_url"), "{err}");
    assert!(err.contains("https"), "{err}");
    assert!(
        err.contains("auth.jwt.jwks_allow_http"),
        "names the way out: {err}"
    );
    let upper = load_from(None, &jwks_env("HTTP://idp.example/jwks.json", &[]));
    assert!(upper.is_err(), "the scheme is case-insensitive");

    let s = load_from(
        None,
        &jwks_env(
            "http://127.0.0.1:8080/jwks.json",
            &[("FLOWGATE_AUTH__JWT__JWKS_ALLOW_HTTP", "true")],
        ),
    )
    .unwrap();
    assert!(s.auth.jwt.jwks_allow_http);
    let s = load_from(None, &jwks_env("https://idp.example/jwks.json", &[])).unwrap();
    assert!(!s.auth.jwt.jwks_allow_http, "off by default");

    let err = load_from(
        None,
        &jwks_env(
            "ftp://idp.example/jwks.json",
            &[("FLOWGATE_AUTH__JWT__JWKS_ALLOW_HTTP", "true")],
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("auth.jwt.jwks_url"), "{err}");
}

#[test]
fn a_zero_minimum_key_set_refresh_interval_is_refused() {
    let err = load_from(
        None,
        &jwks_env(
            "https://idp.example/jwks.json",
            &[("FLOWGATE_AUTH__JWT__JWKS_MIN_REFRESH_INTERVAL", "0s")],
        ),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "invalid configuration: auth.jwt.jwks_min_refresh_interval: must be greater than 0"
    );
}

#[test]
fn a_shutdown_grace_shorter_than_the_request_timeout_is_rejected_naming_both_keys() {
    // Waits end when the drain starts, but any request may still need up to request_timeout.
    let err = load_from(None, &env(&[("FLOWGATE_API__SHUTDOWN_GRACE", "20s")]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid configuration: api.shutdown_grace: must be at least api.request_timeout (35s), \
         got 20s, or a drain could cut requests"
    );

    let s = load_from(
        None,
        &env(&[
            ("FLOWGATE_API__SHUTDOWN_GRACE", "1m"),
            ("FLOWGATE_API__REQUEST_TIMEOUT", "1m"),
        ]),
    )
    .unwrap();
    assert_eq!(
        s.api.shutdown_grace, s.api.request_timeout,
        "equal is enough"
    );
}

#[test]
fn the_default_drain_outlasts_any_request() {
    let s = load_from(None, &env(&[])).unwrap();
    assert_eq!(s.api.result_wait, Duration::from_secs(30));
    assert_eq!(s.api.request_timeout, Duration::from_secs(35));
    assert_eq!(s.api.shutdown_grace, Duration::from_secs(40));
}
