//! API keys and token settings from a Secret of the user's (`api.auth.existingSecret`): only the
//! API mounts it, its file is layered over the chart's (FLOWGATE_CONFIG names both, the Secret's
//! last), authentication is on, and the worker neither mounts nor reads any of it.

use flowgate_deploy_checks::{
    helm::{Render, container_env},
    tools,
};
use serde_json::json;
use serde_norway::Value;

use crate::helm_values::{address, config_toml, merged};

fn pod<'a>(rendered: &'a flowgate_deploy_checks::helm::Rendered, name: &str) -> &'a Value {
    &rendered.get("Deployment", name).unwrap()["spec"]["template"]
}

fn volume<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some(name))
}

#[test]
fn api_keys_and_token_settings_come_from_the_users_secret_layered_over_the_chart_file() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (values, key) in [
        (
            json!({"api": {"auth": {"existingSecret": "flowgate-auth"}}}),
            "auth.toml",
        ),
        (
            json!({"api": {"auth": {"existingSecret": "flowgate-auth", "existingSecretKey": "flowgate-auth.toml"}},
                   "ingress": {"enabled": true}}),
            "flowgate-auth.toml",
        ),
    ] {
        // Exposed through an Ingress without config.auth: the Secret's keys are authentication.
        let rendered = Render::default()
            .set(merged(address(), values.clone()))
            .objects(&python)
            .unwrap_or_else(|e| panic!("{values}: {e}"));
        let api = pod(&rendered, "flowgate-api");
        let container = &api["spec"]["containers"][0];
        let env = container_env(container);
        assert_eq!(
            env["FLOWGATE_CONFIG"], "/etc/flowgate/flowgate.toml:/etc/flowgate/auth/auth.toml",
            "the Secret's file last, so its keys win"
        );
        let auth = volume(api, "auth").expect("the Secret's volume");
        assert_eq!(auth["secret"]["secretName"].as_str(), Some("flowgate-auth"));
        assert_eq!(auth["secret"]["items"][0]["key"].as_str(), Some(key));
        assert_eq!(
            auth["secret"]["items"][0]["path"].as_str(),
            Some("auth.toml")
        );
        let mount = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["name"].as_str() == Some("auth"))
            .unwrap();
        assert_eq!(mount["mountPath"].as_str(), Some("/etc/flowgate/auth"));
        assert_eq!(mount["readOnly"].as_bool(), Some(true));
        // The chart's own file turns authentication on; the keys are the Secret's.
        let api_config = config_toml(&rendered, "api");
        assert_eq!(api_config["auth"]["enabled"].as_bool(), Some(true));
        assert!(api_config["auth"].get("api_keys").is_none());
        // The worker: no Secret, no second file, no [auth] at all.
        let worker = pod(&rendered, "flowgate-worker");
        assert!(volume(worker, "auth").is_none());
        assert_eq!(
            container_env(&worker["spec"]["containers"][0])["FLOWGATE_CONFIG"],
            "/etc/flowgate/flowgate.toml"
        );
        assert!(config_toml(&rendered, "worker").get("auth").is_none());
        // The install notes ask for credentials.
        assert!(
            rendered.notes.contains("Authorization: Bearer"),
            "{}",
            rendered.notes
        );
    }
}

#[test]
fn without_the_users_secret_the_api_reads_the_chart_file_alone() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let rendered = Render::default().set(address()).objects(&python).unwrap();
    let api = pod(&rendered, "flowgate-api");
    assert!(volume(api, "auth").is_none());
    assert_eq!(
        container_env(&api["spec"]["containers"][0])["FLOWGATE_CONFIG"],
        "/etc/flowgate/flowgate.toml"
    );
    assert!(config_toml(&rendered, "api").get("auth").is_none());
}

#[test]
fn contradicting_or_malformed_secret_settings_are_refused() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (values, expected) in [
        (
            json!({"api": {"auth": {"existingSecret": "flowgate-auth"}}, "config": {"auth": {"enabled": false}}}),
            "api.auth.existingSecret turns authentication on",
        ),
        (
            json!({"api": {"auth": {"existingSecret": "Flowgate_Auth"}}}),
            "/api/auth/existingSecret",
        ),
        (
            json!({"api": {"auth": {"existingSecret": "a", "existingSecretKey": "auth/../x"}}}),
            "/api/auth/existingSecretKey",
        ),
        (
            json!({"api": {"auth": {"secret": "a"}}}),
            "'secret' not allowed",
        ),
    ] {
        let values = merged(address(), values);
        let error = crate::helm::refusal(&python, &values);
        assert!(
            error.contains(expected),
            "{values}: {expected:?} not in:\n{error}"
        );
    }
}
