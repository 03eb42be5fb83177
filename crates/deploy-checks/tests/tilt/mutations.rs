//! Tiltfiles the tests expect to be refused: misspellings that Tilt rejects while loading, and
//! edits of the repository's Tiltfile that the checks must object to, so they cannot silently pass.

/// Tiltfile sources with a misspelled builtin, keyword or attribute, and what the evaluation
/// error names.
pub(crate) const MISSPELLINGS: &[(&str, &str)] = &[
    (
        "k8s_resources('flowgate-api', port_forwards=['8000:8000'])\n",
        "k8s_resources",
    ),
    (
        "k8s_resource('flowgate-api', port_forward=['8000:8000'])\n",
        "port_forward",
    ),
    ("config.define_bol('monitoring')\n", "define_bol"),
    ("docker_build('flowgate-api', '.', targt='api')\n", "targt"),
    (
        "k8s_resource('flowgate-api', trigger_mode='manual')\n",
        "TRIGGER_MODE",
    ),
    (
        "load('ext://helm_resources', 'helm_resource')\n",
        "helm_resources",
    ),
    // Never run: names resolve before anything runs, as in Tilt.
    (
        "if False:\n    local_resoure('x', cmd='true')\n",
        "local_resoure",
    ),
];

/// Edits of the repository's Tiltfile (replace this, by that, with Tilt's arguments after `--`)
/// and what one of the problems says.
pub(crate) const MUTATIONS: &[(&str, &str, &[&str], &str)] = &[
    (
        "target='api'",
        "target='apii'",
        &[],
        "\"apii\" is not a stage",
    ),
    (
        "target='worker'",
        "target='api'",
        &[],
        "not the flowgate-worker binary",
    ),
    (
        "docker_build('flowgate-worker'",
        "docker_build('flowgate-wrker'",
        &[],
        "flowgate-wrker",
    ),
    (
        "port_forward(8080, 8233",
        "port_forward(8080, 8234",
        &[],
        "8234 is not a containerPort",
    ),
    (
        "port_forward(8000, 8000",
        "port_forward(8000, 9000",
        &[],
        "9000 is not a containerPort",
    ),
    (
        "port_forward(8081, 8081",
        "port_forward(8000, 8081",
        &[],
        "local port 8000 is forwarded twice",
    ),
    (
        "k8s_resource(\n    'flowgate-api'",
        "k8s_resource(\n    'flowgate-apii'",
        &[],
        "no such workload",
    ),
    (
        "resource_deps=['flowgate-temporal']",
        "resource_deps=['flowgate-temporl']",
        &[],
        "flowgate-temporl",
    ),
    (
        "resource_deps=['flowgate-setup'],",
        "",
        &[],
        "does not wait for flowgate-setup",
    ),
    (
        "'%s-config:configmap:%s' % (RELEASE, NAMESPACE),",
        "",
        &[],
        "ConfigMap/flowgate-config (namespace flowgate) is in no resource",
    ),
    (
        "'Cargo.lock', 'rust-toolchain.toml'",
        "'rust-toolchain.toml'",
        &[],
        "needs Cargo.lock",
    ),
    ("'crates/*/tests',", "'crates/*/src',", &[], "which ignore="),
    (
        "resource_deps=['flowgate-setup', MONITORING_RELEASE]",
        "resource_deps=['flowgate-setup']",
        &["--monitoring"],
        "waits for no release installing its CRD",
    ),
];
