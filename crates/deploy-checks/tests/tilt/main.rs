//! The `Tiltfile` (`tilt up` on a local cluster), checked without Tilt, Docker or a cluster.
//!
//! `scripts/tilt_eval.py` evaluates it with starlark-rust (PyPI `starlark-pyo3`) and strict,
//! recording stubs of Tilt's builtins (a misspelled builtin, keyword or attribute fails, as in
//! Tilt). What it asks Tilt to do is then checked against the real `Dockerfile` and against the
//! chart as the real Helm engine renders it with exactly the arguments the Tiltfile's `helm()`
//! passes (values files, `--set`, release name, namespace; Tilt's filter of `templates/tests/`):
//!
//! - every image is built from a real final stage whose entrypoint is that image's binary, from a
//!   build context (`only=`/`ignore=`) that still holds everything cargo needs, and is the image
//!   repository the values files give a workload (so Tilt substitutes it), and every repository
//!   those values set is built;
//! - every `k8s_resource` names a rendered workload (or a Helm release the Tiltfile installs),
//!   every port-forward reaches a `containerPort` of its pod, and local ports are not reused;
//! - every object is in a resource (none left to Tilt's parallel "uncategorized" one), object
//!   selectors match exactly one object, every resource with objects in a namespace waits for the
//!   resource creating it, custom resources wait for the release installing their CRDs, and
//!   `resource_deps` name real resources;
//! - in `--monitoring` mode, Grafana is forwarded to local port 3000 from Grafana's pod, and the
//!   chart renders the ServiceMonitor, PrometheusRule and dashboards for that Prometheus.
//!
//! A last test mutates the Tiltfile (wrong target, port, image, dependency, …) and expects these
//! checks to object, so they cannot silently pass.
//!
//! Needs `python3` with `starlark` and `yaml` (`pip install starlark-pyo3==2026.1.3`) and the Helm
//! SDK (see `tools::helm_python_or_skip`); missing, the tests skip unless
//! `FLOWGATE_REQUIRE_DEPLOY_TOOLS=1`.
//!
//! The tests are here; `eval` runs the evaluator, `chart` renders what the Tiltfile deploys and
//! `objects` reads it, `images` and `checks` are the consistency check, `mutations` holds the
//! Tiltfiles the tests expect to be refused.

mod chart;
mod checks;
mod eval;
mod images;
mod mutations;
mod objects;

use std::collections::BTreeMap;

use flowgate_deploy_checks::{dockerfile::Dockerfile, repo_root};
use serde_json::{Map, Value, json};

use crate::{
    chart::{render_helm_call, set_json},
    checks::{assert_no_problems, problems},
    eval::{Forward, evaluate, evaluate_repo_tiltfile, python, starlark_python, str_of, strings},
    images::ignore_matches,
    mutations::{MISSPELLINGS, MUTATIONS},
    objects::{container_ports, image_repository, kind, workload},
};

#[test]
fn tilt_up_builds_the_images_deploys_the_dev_chart_and_forwards_the_local_ports() {
    let Some(python) = python() else { return };
    let eval = evaluate_repo_tiltfile(&python, &[]);
    assert_no_problems(&python, &eval);

    // Both images, from their Dockerfile targets.
    let builds: BTreeMap<&str, &str> = eval
        .calls("docker_build")
        .map(|p| (str_of(p, "ref"), str_of(p, "target")))
        .collect();
    assert_eq!(
        builds,
        BTreeMap::from([("flowgate-api", "api"), ("flowgate-worker", "worker")])
    );
    let dockerfile = Dockerfile::read().unwrap();
    assert_eq!(dockerfile.exposed_ports("api"), [8000, 9464]);

    // The chart, with the dev profile, as release flowgate.
    let helm: Vec<_> = eval.calls("helm").collect();
    assert_eq!(helm.len(), 1, "one helm() call");
    assert_eq!(str_of(helm[0], "paths"), "deploy/helm/flowgate");
    assert_eq!(str_of(helm[0], "name"), "flowgate");
    let values = strings(helm[0], "values");
    assert!(
        values.contains(&"deploy/helm/profiles/dev.yaml".to_owned()),
        "{values:?}"
    );
    for file in &values {
        assert!(eval.path(file).is_file(), "values file {file} is missing");
    }
    let objects = render_helm_call(&python, &eval, helm[0]).unwrap();
    assert!(
        objects.iter().all(|o| kind(o) != "ServiceMonitor"),
        "no monitoring objects without --monitoring (their CRDs are not installed)"
    );

    // The local run's ports: API 8000, Temporal UI 8080, gRPC 7233, worker 8081, each to the
    // container port of that name.
    for (resource, local, port_name) in [
        ("flowgate-api", 8000, "http"),
        ("flowgate-api", 9464, "metrics"),
        ("flowgate-temporal", 8080, "ui"),
        ("flowgate-temporal", 7233, "grpc"),
        ("flowgate-worker", 8081, "health"),
    ] {
        let forward = eval
            .forwards(resource)
            .into_iter()
            .find(|f| f.local == local)
            .unwrap_or_else(|| panic!("{resource} forwards no local port {local}"));
        let ports = container_ports(workload(&objects, resource));
        let container = u64::from(forward.container.expect("explicit container port"));
        assert_eq!(
            ports.get(&container).map(String::as_str),
            Some(port_name),
            "{resource}: local {local} should reach the `{port_name}` port ({ports:?})"
        );
    }

    // Start order, groups and links.
    for resource in ["flowgate-api", "flowgate-worker"] {
        let deps: Vec<String> = eval
            .k8s_resource(resource)
            .flat_map(|p| strings(p, "resource_deps"))
            .collect();
        assert!(
            deps.contains(&"flowgate-temporal".to_owned()),
            "{resource}: {deps:?}"
        );
    }
    for resource in ["flowgate-api", "flowgate-worker", "flowgate-temporal"] {
        assert!(
            eval.k8s_resource(resource)
                .any(|p| !strings(p, "labels").is_empty()),
            "{resource} has no label"
        );
    }
    assert!(
        eval.k8s_resource("flowgate-api")
            .flat_map(|p| p["links"].as_array().cloned().unwrap_or_default())
            .any(|l| l["url"] == "http://localhost:8000/docs"),
        "the API resource links its docs"
    );

    // Host helpers: cargo check on changes; the README's test command on demand.
    let local: BTreeMap<&str, &Map<String, Value>> = eval
        .calls("local_resource")
        .map(|p| (str_of(p, "name"), p))
        .collect();
    let check = local.get("cargo-check").expect("a cargo-check resource");
    assert!(str_of(check, "cmd").starts_with("cargo check --workspace"));
    assert!(strings(check, "deps").contains(&"crates".to_owned()));
    let test = local.get("cargo-test").expect("a cargo-test resource");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```bash\n{}\n```", str_of(test, "cmd"))),
        "not the README's test command: {}",
        str_of(test, "cmd")
    );
    assert_eq!(test["auto_init"], json!(false));
    assert_eq!(str_of(test, "trigger_mode"), "TRIGGER_MODE_MANUAL");

    // Only local clusters unless one is named; never every context.
    assert_eq!(eval.calls("allow_k8s_contexts").count(), 0);
    assert_eq!(eval.calls("helm_resource").count(), 0);
    let named = evaluate_repo_tiltfile(&python, &["--allow-k8s-context=dev-cluster"]);
    let allowed: Vec<Vec<String>> = named
        .calls("allow_k8s_contexts")
        .map(|p| strings(p, "contexts"))
        .collect();
    assert_eq!(allowed, [["dev-cluster"]]);
}

#[test]
fn monitoring_mode_adds_grafana_on_3000_and_the_charts_monitoring_objects() {
    let Some(python) = python() else { return };
    let eval = evaluate_repo_tiltfile(&python, &["--monitoring"]);
    assert_no_problems(&python, &eval);

    let releases: Vec<_> = eval
        .calls("helm_resource")
        .filter(|p| str_of(p, "chart").ends_with("/kube-prometheus-stack"))
        .collect();
    assert_eq!(releases.len(), 1, "one kube-prometheus-stack release");
    let stack = releases[0];
    let resource = str_of(stack, "name");
    let release = match str_of(stack, "release_name") {
        "" => resource,
        release => release,
    };

    // Grafana on localhost:3000, from Grafana's pod (not whichever pod of the release).
    let grafana = eval
        .forwards(resource)
        .into_iter()
        .find(|f| f.local == 3000);
    assert_eq!(
        grafana.map(|f| f.container),
        Some(Some(3000)),
        "Grafana forward"
    );
    assert!(
        eval.k8s_resource(resource).any(|p| {
            str_of(p, "discovery_strategy") == "selectors-only"
                && p["extra_pod_selectors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["app.kubernetes.io/name"] == "grafana")
        }),
        "{resource}'s pods should be Grafana's only, so the forward reaches Grafana"
    );
    // The dashboards' ConfigMaps are in the chart's namespace: the sidecar must search them all.
    assert!(
        strings(stack, "flags")
            .iter()
            .any(|f| f == "--set=grafana.sidecar.dashboards.searchNamespace=ALL"),
        "Grafana's dashboard sidecar does not look outside its namespace"
    );

    // The chart renders the ServiceMonitor and rules for that Prometheus, and the dashboards.
    let helm = eval.calls("helm").next().expect("a helm() call");
    let objects = render_helm_call(&python, &eval, helm).unwrap();
    for kind_ in ["ServiceMonitor", "PrometheusRule"] {
        let object = objects
            .iter()
            .find(|o| kind(o) == kind_)
            .unwrap_or_else(|| panic!("no {kind_} rendered in monitoring mode"));
        assert_eq!(
            object["metadata"]["labels"]["release"], release,
            "{kind_} is not selected by the {release} Prometheus"
        );
    }
    let dashboards = objects
        .iter()
        .filter(|o| kind(o) == "ConfigMap" && o["metadata"]["labels"]["grafana_dashboard"] == "1")
        .count();
    let files = std::fs::read_dir(eval.path("deploy/helm/flowgate/files/dashboards"))
        .unwrap()
        .count();
    assert!(
        dashboards > 0 && dashboards == files,
        "{dashboards} dashboard ConfigMaps for {files} files"
    );
}

#[test]
fn a_misspelled_tilt_builtin_keyword_or_attribute_fails_the_evaluation() {
    let Some(python) = starlark_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tiltfile = dir.path().join("Tiltfile");
    let run = |source: &str| {
        std::fs::write(&tiltfile, source).unwrap();
        evaluate(&python, &tiltfile, dir.path(), &[]).map(|e| e.calls.len())
    };
    // The correct spelling evaluates, so the failures below are the misspellings'.
    let good = "config.define_bool('monitoring')\ncfg = config.parse()\n\
                k8s_resource('flowgate-api', port_forwards=['8000:8000'], trigger_mode=TRIGGER_MODE_MANUAL)\n";
    assert_eq!(run(good), Ok(3));
    for &(source, expected) in MISSPELLINGS {
        let error = run(source).expect_err(source);
        assert!(error.contains(expected), "{source}: {error}");
    }
}

#[test]
fn the_checks_object_to_a_wrong_target_port_image_dependency_or_build_context() {
    let Some(python) = python() else { return };
    let root = repo_root();
    let original = std::fs::read_to_string(root.join("Tiltfile")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tiltfile = dir.path().join("Tiltfile");
    for &(from, to, args, expected) in MUTATIONS {
        assert!(
            original.contains(from),
            "the Tiltfile no longer contains {from:?}: update this test"
        );
        std::fs::write(&tiltfile, original.replacen(from, to, 1)).unwrap();
        let eval = evaluate(&python, &tiltfile, &root, args)
            .unwrap_or_else(|e| panic!("{from:?} -> {to:?} does not evaluate:\n{e}"));
        let problems = problems(&python, &eval).unwrap();
        eprintln!("{from:?} -> {to:?}: {problems:?}");
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{from:?} -> {to:?} should be reported ({expected:?}), got: {problems:#?}"
        );
    }
}

#[test]
fn helper_parsers() {
    assert_eq!(
        set_json(&[
            "a.b=true".into(),
            "a.c=x".into(),
            "d=3".into(),
            "e=007".into()
        ])
        .unwrap(),
        json!({"a": {"b": true, "c": "x"}, "d": 3, "e": "007"})
    );
    assert!(set_json(&["a[0]=x".into()]).is_err());
    assert!(ignore_matches(
        "crates/*/tests",
        "crates/api/tests/api/main.rs"
    ));
    assert!(ignore_matches("**/*.pyc", "crates/x/a.pyc"));
    assert!(!ignore_matches("crates/*/tests", "crates/api/src/tests.rs"));
    assert_eq!(image_repository("flowgate-api:dev"), "flowgate-api");
    assert_eq!(
        image_repository("localhost:5000/a/b:1@sha256:00"),
        "localhost:5000/a/b"
    );
    assert_eq!(image_repository("localhost:5000/a"), "localhost:5000/a");
    assert_eq!(
        Forward::parse("host:8080:8233").unwrap(),
        Forward {
            local: 8080,
            container: Some(8233)
        }
    );
}
