//! docker-compose.yml: valid for the Compose specification (Docker Compose's own loader), both
//! profiles, health-gated start order, documented ports, Dockerfile targets, pinned images.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use flowgate_deploy_checks::{
    compose::{
        environment, healthcheck_test, host_path, mounts, profiles, published_ports, read_compose,
        service, service_names,
    },
    dockerfile::Dockerfile,
    repo_root,
    tools::{self, Compose},
};
use serde_norway::Value;

use crate::{dockerfile::TARGETS, output};

/// What `docker compose up` starts.
const DEV_STACK: [&str; 7] = [
    "api",
    "worker",
    "temporal",
    "otel-collector",
    "jaeger",
    "prometheus",
    "grafana",
];
/// What `docker compose --profile postgres up` starts.
const POSTGRES_STACK: [&str; 11] = [
    "api",
    "worker",
    "postgresql",
    "temporal-schema",
    "temporal-server",
    "temporal-namespace",
    "temporal-ui",
    "otel-collector",
    "jaeger",
    "prometheus",
    "grafana",
];
/// Long-running services that cannot have a health check, and why.
const NO_HEALTHCHECK: [(&str, &str); 1] = [(
    "otel-collector",
    "its image holds only the collector: no shell, no HTTP client, no health_check extension",
)];

/// `docker compose [args]` in the repository, immune to the caller's COMPOSE_* variables.
fn compose_command(compose: &Compose, args: &[&str]) -> Command {
    let mut command = compose.command(args);
    command
        .current_dir(repo_root())
        .env_remove("COMPOSE_PROFILES")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_ENV_FILES");
    command
}

/// The model Docker Compose resolves for `profile_args`.
fn resolved(compose: &Compose, profile_args: &[&str]) -> serde_json::Value {
    let mut args = profile_args.to_vec();
    args.extend(["config", "--format", "json"]);
    let (ok, text) = output(&mut compose_command(compose, &args));
    assert!(ok, "docker compose {args:?} failed:\n{text}");
    let start = text.find('{').expect("JSON output");
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn names(model: &serde_json::Value) -> BTreeSet<String> {
    model["services"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn docker_compose_validates_the_file_against_the_compose_specification_in_both_profiles() {
    let Some(compose) = tools::compose_or_skip() else {
        return;
    };
    // The validator really rejects what the specification forbids (and its exit code says so).
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("compose.yml");
    std::fs::write(
        &broken,
        "services:\n  api:\n    image: x\n    helthcheck: {}\n",
    )
    .unwrap();
    let (ok, text) = output(&mut compose_command(
        &compose,
        &["-f", broken.to_str().unwrap(), "config", "-q"],
    ));
    assert!(!ok && text.contains("helthcheck"), "not rejected: {text}");

    for profile_args in [&[][..], &["--profile", "postgres"][..]] {
        let mut args = profile_args.to_vec();
        args.extend(["config", "--quiet"]);
        let (ok, text) = output(&mut compose_command(&compose, &args));
        assert!(
            ok && text.trim().is_empty(),
            "docker compose {args:?}:\n{text}"
        );
    }

    // `docker compose up` = the dev stack (COMPOSE_PROFILES=dev from .env); the postgres
    // profile replaces the dev server with the production-style Temporal, nothing clashes.
    let dev = resolved(&compose, &[]);
    let expected: BTreeSet<String> = DEV_STACK.iter().map(|s| s.to_string()).collect();
    assert_eq!(names(&dev), expected);
    let postgres = resolved(&compose, &["--profile", "postgres"]);
    let expected: BTreeSet<String> = POSTGRES_STACK.iter().map(|s| s.to_string()).collect();
    assert_eq!(names(&postgres), expected);

    // What compose hands the containers is what the config contract reads from the file: no
    // interpolation or merging changes it.
    let file = read_compose().unwrap();
    for (name, _) in TARGETS {
        let ours = environment(service(&file, name).unwrap()).unwrap();
        let theirs: BTreeMap<String, String> =
            serde_json::from_value(dev["services"][name]["environment"].clone()).unwrap();
        assert_eq!(ours, theirs, "{name}");
    }
    let raw = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    assert!(
        !raw.contains("${") && !raw.contains("<<:"),
        "no interpolation or merge keys"
    );
}

#[test]
fn every_dependency_waits_for_health_or_completion_and_every_service_has_a_healthcheck() {
    let file = read_compose().unwrap();
    let all = service_names(&file);
    let exempt: BTreeMap<&str, &str> = NO_HEALTHCHECK.into_iter().collect();
    let one_shot = |svc: &Value| svc["restart"].as_str() == Some("no");
    for name in &all {
        let svc = service(&file, name).unwrap();
        if one_shot(svc) {
            assert!(svc["healthcheck"].is_null(), "{name}: a one-shot job");
        } else if !exempt.contains_key(name.as_str()) {
            let test = healthcheck_test(svc).unwrap_or_else(|| panic!("{name}: no healthcheck"));
            assert_eq!(test[0], "CMD", "{name}: exec form (no shell needed)");
        }
        for (dependency, spec) in svc["depends_on"].as_mapping().into_iter().flatten() {
            let dependency = dependency.as_str().unwrap();
            assert!(all.iter().any(|s| s == dependency), "{name} → {dependency}");
            let target = service(&file, dependency).unwrap();
            let expected = if one_shot(target) {
                "service_completed_successfully"
            } else if exempt.contains_key(dependency) {
                "service_started"
            } else {
                "service_healthy"
            };
            assert_eq!(
                spec["condition"].as_str(),
                Some(expected),
                "{name} → {dependency}"
            );
            // A dependency in another profile is optional (the profiles replace each other).
            let optional = spec["required"].as_bool() == Some(false);
            assert_eq!(
                optional,
                profiles(target) != profiles(svc) && !profiles(target).is_empty(),
                "{name} → {dependency}: `required: false` exactly for other profiles' services"
            );
        }
    }
    for name in ["api", "worker"] {
        let svc = service(&file, name).unwrap();
        assert_eq!(
            svc["depends_on"]["temporal"]["condition"].as_str(),
            Some("service_healthy"),
            "{name} starts once the dev server answers"
        );
    }
}

/// What compose may publish on the host: the API (the guide's port 8000) and the UIs a developer
/// opens, as `(service, host port)`. Temporal's gRPC frontend (no authentication), the API's
/// admin listener and the worker's probes stay inside the stack's network.
const PUBLISHED: [(&str, u16); 6] = [
    ("api", 8000),
    ("temporal", 8080),
    ("temporal-ui", 8080),
    ("grafana", 3000),
    ("jaeger", 16686),
    ("prometheus", 9090),
];

#[test]
fn only_the_api_and_the_uis_are_published_and_only_on_loopback() {
    let Some(compose) = tools::compose_or_skip() else {
        return;
    };
    for profile_args in [&[][..], &["--profile", "postgres"][..]] {
        // The model Docker Compose runs: every port syntax normalised to host_ip/published.
        let model = resolved(&compose, profile_args);
        let mut published = BTreeSet::new();
        for (name, svc) in model["services"].as_object().unwrap() {
            assert!(
                svc["network_mode"].as_str() != Some("host"),
                "{profile_args:?} {name}: the host's network publishes every port"
            );
            for port in svc["ports"].as_array().into_iter().flatten() {
                let host_port: u16 = port["published"].as_str().unwrap().parse().unwrap();
                assert_eq!(
                    port["host_ip"].as_str(),
                    Some("127.0.0.1"),
                    "{profile_args:?} {name}: port {host_port} is published on every interface"
                );
                assert!(
                    PUBLISHED.contains(&(name.as_str(), host_port)),
                    "{profile_args:?} {name}: port {host_port} must not be published"
                );
                published.insert(host_port);
            }
        }
        // The guide's contract: the API on port 8000.
        assert!(published.contains(&8000), "{profile_args:?}: {published:?}");
        // Prometheus's UI is published: it must not take commands over HTTP.
        let flags = model["services"]["prometheus"]["command"].to_string();
        for flag in ["--web.enable-lifecycle", "--web.enable-admin-api"] {
            assert!(!flags.contains(flag), "{profile_args:?}: prometheus {flag}");
        }
    }
}

#[test]
fn published_ports_are_the_documented_ones() {
    let file = read_compose().unwrap();
    let expected: [(&str, &[(u16, u16)]); 8] = [
        ("api", &[(8000, 8000)]),
        ("worker", &[]),
        // The dev server's UI listens on 8233; the guide's URL is :8080.
        ("temporal", &[(8080, 8233)]),
        ("temporal-server", &[]),
        ("temporal-ui", &[(8080, 8080)]),
        ("grafana", &[(3000, 3000)]),
        ("jaeger", &[(16686, 16686)]),
        ("prometheus", &[(9090, 9090)]),
    ];
    for (name, ports) in expected {
        assert_eq!(
            published_ports(service(&file, name).unwrap()),
            ports,
            "{name}"
        );
    }
    let guide = std::fs::read_to_string(repo_root().join("docs/deployment.md")).unwrap();
    for url in [
        "http://localhost:8000",
        "http://localhost:8080",
        "http://localhost:3000",
        "http://localhost:16686",
        "http://localhost:9090",
        "docker compose --profile postgres up",
    ] {
        assert!(
            guide.contains(url),
            "docs/deployment.md does not mention {url}"
        );
    }
}

#[test]
fn api_and_worker_are_built_from_the_dockerfile_targets_and_probed_like_the_images() {
    let file = read_compose().unwrap();
    let dockerfile = Dockerfile::read().unwrap();
    for (target, binary) in TARGETS {
        let svc = service(&file, target).unwrap();
        assert_eq!(svc["build"]["context"].as_str(), Some("."));
        assert_eq!(svc["build"]["dockerfile"].as_str(), Some("Dockerfile"));
        let stage = svc["build"]["target"].as_str().unwrap();
        assert!(dockerfile.stage(stage).is_some(), "FROM … AS {stage}");
        let mut expected = vec!["CMD".to_owned()];
        expected.extend(dockerfile.healthcheck_command(stage).unwrap());
        assert_eq!(healthcheck_test(svc), Some(expected), "{target}");
        assert!(
            dockerfile.entrypoint(stage).unwrap()[0].ends_with(binary),
            "{target} runs {binary}"
        );
        assert!(
            svc["command"].is_null(),
            "{target}: the image's entrypoint runs the service"
        );
        assert_eq!(svc["read_only"].as_bool(), Some(true), "{target}");
    }
}

#[test]
fn every_image_is_pinned_and_no_deprecated_auto_setup_is_used() {
    let file = read_compose().unwrap();
    for name in service_names(&file) {
        let svc = service(&file, &name).unwrap();
        let image = svc["image"].as_str().unwrap_or_default();
        if !svc["build"].is_null() {
            continue;
        }
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            tag.chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == 'v')
                && tag.contains('.'),
            "{name}: pin a version, not {image:?}"
        );
        assert!(
            !image.contains("auto-setup"),
            "{name}: auto-setup is deprecated"
        );
    }
    let image = |name: &str| {
        service(&file, name).unwrap()["image"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(image("temporal").starts_with("temporalio/temporal:"));
    assert!(image("postgresql").starts_with("postgres:16."));
    assert!(image("temporal-schema").starts_with("temporalio/admin-tools:"));
    assert!(image("temporal-server").starts_with("temporalio/server:"));
    assert!(image("temporal-ui").starts_with("temporalio/ui:"));
    // Server and its schema tools move together.
    let version = |name: &str| image(name).rsplit_once(':').unwrap().1.to_owned();
    assert_eq!(version("temporal-server"), version("temporal-schema"));
    assert_eq!(version("temporal-server"), version("temporal-namespace"));
}

#[test]
fn the_dev_server_keeps_its_state_on_a_volume_and_both_variants_answer_as_temporal() {
    let file = read_compose().unwrap();
    let temporal = service(&file, "temporal").unwrap();
    let command: Vec<&str> = temporal["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        command,
        [
            "server",
            "start-dev",
            "--ip",
            "0.0.0.0",
            "--db-filename",
            "/home/temporal/temporal.db"
        ]
    );
    let volume = mounts(temporal)
        .into_iter()
        .find(|m| m.target == "/home/temporal")
        .expect("the database directory is a volume");
    assert!(
        file["volumes"].get(volume.source.as_str()).is_some(),
        "named volume"
    );
    let aliases = &service(&file, "temporal-server").unwrap()["networks"]["default"]["aliases"];
    assert_eq!(aliases[0].as_str(), Some("temporal"));
    for name in ["api", "worker"] {
        let env = environment(service(&file, name).unwrap()).unwrap();
        assert_eq!(env["TEMPORAL_ADDRESS"], "temporal:7233", "{name}");
    }
}

#[test]
fn every_mounted_file_exists_and_the_shell_scripts_parse() {
    let file = read_compose().unwrap();
    for name in service_names(&file) {
        for mount in mounts(service(&file, &name).unwrap()) {
            if let Some(path) = host_path(&mount) {
                assert!(path.exists(), "{name}: {} does not exist", mount.source);
                assert!(
                    mount.read_only,
                    "{name}: {} is mounted read-only",
                    mount.source
                );
                if mount.source.ends_with(".sh") {
                    let (ok, text) = output(Command::new("sh").arg("-n").arg(&path));
                    assert!(ok, "{}: {text}", mount.source);
                }
            }
        }
    }
}
