//! The chart's trust boundaries: secrets reach the pods only through a Secret (never the
//! ConfigMap or a Deployment's plain environment), and an API exposed through an Ingress or an
//! HTTPRoute authenticates its callers unless the values say explicitly that it need not; the
//! profiles that expose it turn authentication on and trust the ingress's `X-Forwarded-For`.

use flowgate_deploy_checks::{
    helm::{Render, container_env, profile_path},
    tools,
};
use serde_json::json;
use serde_norway::Value;

use crate::helm::refusal;
use crate::{
    helm::{matrix, render},
    helm_objects::name_of,
    helm_values::{address, merged},
};

#[test]
fn secrets_in_values_reach_the_pods_only_through_a_secret() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let secrets = [
        "s3cret-temporal-api-key",
        "s3cret-client-certificate",
        "s3cret-client-key",
        "authorization=Bearer s3cret-otlp-token",
        "whsec_czNjcmV0LXdlYmhvb2stc2lnbmluZy1rZXk=",
    ];
    let rendered = Render::default()
        .set(merged(
            address(),
            json!({
                "temporal": {
                    "apiKey": secrets[0],
                    "tls": {"mtls": true, "clientCert": secrets[1], "clientKey": secrets[2]},
                },
                "otel": {"endpoint": "http://collector:4317", "headers": secrets[3]},
                "webhooks": {"secrets": secrets[4]},
            }),
        ))
        .objects(&python)
        .unwrap();

    for object in &rendered.objects {
        if object["kind"].as_str() == Some("Secret") {
            continue;
        }
        let text = serde_norway::to_string(object).unwrap();
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{} {} holds {secret:?} in plain text",
                object["kind"].as_str().unwrap(),
                name_of(object)
            );
        }
    }
    let secret = rendered.get("Secret", "flowgate").unwrap();
    for key in [
        "temporal-api-key",
        "temporal-tls.crt",
        "temporal-tls.key",
        "otlp-headers",
        "webhook-secrets",
    ] {
        assert!(
            secret["data"][key].is_string(),
            "{key} is not in the Secret"
        );
    }
    for deployment in ["flowgate-api", "flowgate-worker"] {
        let env = container_env(
            &rendered.get("Deployment", deployment).unwrap()["spec"]["template"]["spec"]["containers"]
                [0],
        );
        assert_eq!(
            env["TEMPORAL_API_KEY"], "secretKeyRef:flowgate/temporal-api-key",
            "{deployment}"
        );
        assert_eq!(
            env["OTEL_EXPORTER_OTLP_HEADERS"], "secretKeyRef:flowgate/otlp-headers",
            "{deployment}"
        );
        // Only the worker signs completion webhooks.
        let signing = env.get("FLOWGATE_WEBHOOKS__SECRETS").map(String::as_str);
        let expected =
            (deployment == "flowgate-worker").then_some("secretKeyRef:flowgate/webhook-secrets");
        assert_eq!(signing, expected, "{deployment}");
    }
}

#[test]
fn secrets_put_where_they_would_be_rendered_in_plain_text_are_refused_naming_the_secret_way() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let plain = |name: &str| json!([{"name": name, "value": "s3cret"}]);
    let cases = [
        (
            json!({"config": {"temporal": {"api_key": "s3cret"}}}),
            [
                "config.temporal.api_key",
                "temporal.apiKey",
                "existingSecret",
            ],
        ),
        (
            json!({"config": {"otel": {"headers": "authorization=s3cret"}}}),
            ["config.otel.headers", "otel.headers", "existingSecret"],
        ),
        (
            json!({"api": {"extraEnv": plain("TEMPORAL_API_KEY")}}),
            ["api.extraEnv", "TEMPORAL_API_KEY", "secretKeyRef"],
        ),
        (
            json!({"worker": {"extraEnv": plain("FLOWGATE_TEMPORAL__API_KEY")}}),
            [
                "worker.extraEnv",
                "FLOWGATE_TEMPORAL__API_KEY",
                "secretKeyRef",
            ],
        ),
        (
            json!({"api": {"extraEnv": plain("OTEL_EXPORTER_OTLP_HEADERS")}}),
            ["api.extraEnv", "OTEL_EXPORTER_OTLP_HEADERS", "secretKeyRef"],
        ),
        (
            json!({"worker": {"extraEnv": plain("FLOWGATE_OTEL__HEADERS")}}),
            ["worker.extraEnv", "FLOWGATE_OTEL__HEADERS", "secretKeyRef"],
        ),
        (
            json!({"config": {"webhooks": {"secrets": ["whsec_czNjcmV0"]}}}),
            [
                "config.webhooks.secrets",
                "webhooks.secrets",
                "existingSecret",
            ],
        ),
        (
            json!({"worker": {"extraEnv": plain("FLOWGATE_WEBHOOKS__SECRETS")}}),
            [
                "worker.extraEnv",
                "FLOWGATE_WEBHOOKS__SECRETS",
                "secretKeyRef",
            ],
        ),
    ];
    for (values, expected) in cases {
        let values = merged(address(), values);
        let error = refusal(&python, &values);
        for words in expected {
            assert!(
                error.contains(words),
                "{values}: expected {words:?} in:\n{error}"
            );
        }
        assert!(!error.contains("s3cret"), "the refusal repeats the secret");
    }
    // The same variables from a Secret are fine.
    let from_secret = json!([{"name": "TEMPORAL_API_KEY", "valueFrom": {"secretKeyRef": {"name": "mine", "key": "k"}}}]);
    Render::default()
        .set(merged(address(), json!({"api": {"extraEnv": from_secret}})))
        .manifests(&python)
        .unwrap();
}

/// `[auth]` with one API key (its hash only), as a release that turns authentication on.
fn auth_on() -> serde_json::Value {
    json!({"config": {"auth": {
        "enabled": true,
        "api_keys": [{"name": "ci", "sha256": "ab".repeat(32), "permissions": ["read:*"]}],
    }}})
}

#[test]
fn an_api_exposed_with_auth_off_is_refused_unless_the_values_say_so() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let ingress = json!({"ingress": {"enabled": true}});
    let route = json!({"httpRoute": {"enabled": true, "parentRefs": [{"name": "public"}]}});
    for (exposure, key) in [
        (ingress.clone(), "ingress.allowUnauthenticated"),
        (route.clone(), "httpRoute.allowUnauthenticated"),
    ] {
        for auth in [json!({}), json!({"config": {"auth": {"enabled": false}}})] {
            let values = merged(merged(address(), exposure.clone()), auth);
            let error = refusal(&python, &values);
            assert!(error.contains("config.auth.enabled"), "{values}:\n{error}");
            assert!(error.contains(key), "{values}:\n{error}");
        }
    }
    // Authentication on, or an explicit opt-out, renders.
    for values in [
        merged(merged(address(), ingress.clone()), auth_on()),
        merged(merged(address(), route.clone()), auth_on()),
        merged(
            address(),
            json!({"ingress": {"enabled": true, "allowUnauthenticated": true}}),
        ),
        merged(
            merged(address(), route),
            json!({"httpRoute": {"allowUnauthenticated": true}}),
        ),
    ] {
        Render::default()
            .set(values.clone())
            .manifests(&python)
            .unwrap_or_else(|e| panic!("{values}: {e}"));
    }
}

#[test]
fn profiles_that_expose_the_api_turn_auth_on_and_trust_the_ingress_forwarded_for() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // The profiles themselves, whichever is used alone.
    for profile in ["ingress-tls", "production"] {
        let values: Value =
            serde_norway::from_str(&std::fs::read_to_string(profile_path(profile)).unwrap())
                .unwrap();
        assert_eq!(
            values["config"]["auth"]["enabled"].as_bool(),
            Some(true),
            "{profile}.yaml"
        );
        assert_eq!(
            values["config"]["limits"]["trust_forwarded_for"].as_bool(),
            Some(true),
            "{profile}.yaml"
        );
        assert!(
            values["ingress"]["allowUnauthenticated"].is_null(),
            "{profile}.yaml opts out"
        );
    }
    // Every rendered combination that exposes the API: what the processes are configured with.
    let mut exposed = 0;
    for (name, how) in matrix() {
        let rendered = render(&python, name, &how);
        if rendered.of_kind("Ingress").is_empty() && rendered.of_kind("HTTPRoute").is_empty() {
            continue;
        }
        exposed += 1;
        let config = crate::helm_values::config_toml(&rendered, "api");
        assert_eq!(
            config["auth"]["enabled"].as_bool(),
            Some(true),
            "{name}: exposed with auth off"
        );
        assert_eq!(
            config["limits"]["trust_forwarded_for"].as_bool(),
            Some(true),
            "{name}: every client behind the ingress would share one rate bucket"
        );
        // The install notes' example call carries credentials.
        assert!(
            rendered.notes.contains("Authorization: Bearer"),
            "{name}:\n{}",
            rendered.notes
        );
        // With NetworkPolicies, the API may still fetch the issuer's key set.
        if let Some(jwks) = config["auth"]
            .get("jwt")
            .and_then(|jwt| jwt.get("jwks_url"))
            .and_then(toml::Value::as_str)
            && let Ok(policy) = rendered.get("NetworkPolicy", "flowgate-api")
        {
            let port = if jwks.starts_with("https://") {
                443
            } else {
                80
            };
            let egress = serde_norway::to_string(&policy["spec"]["egress"]).unwrap();
            assert!(
                policy["spec"]["egress"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .flat_map(|rule| rule["ports"].as_sequence().into_iter().flatten())
                    .any(|p| p["port"].as_u64() == Some(port)),
                "{name}: no egress to {jwks}:\n{egress}"
            );
        }
    }
    assert!(
        exposed >= 3,
        "the matrix exposes the API in {exposed} cases"
    );
}
