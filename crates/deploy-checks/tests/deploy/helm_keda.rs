//! The worker scaled by KEDA's `temporal` scaler: for every way the worker may connect to
//! Temporal, the ScaledObject's trigger and its TriggerAuthentication carry what KEDA documents
//! for that connection (trigger metadata `enableTLS`, `unsafeSsl`, `tlsServerName`;
//! authentication parameters `apiKey`, `cert`, `key`, `ca` from the chart's Secret), and they
//! agree with the worker's own connection in the same render. Connections KEDA cannot make are
//! refused with a message saying what to do.

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use flowgate_deploy_checks::{
    helm::{Render, Rendered, container_env, pipe},
    tools,
};
use serde_json::json;
use serde_norway::Value;

use crate::helm_values::{address, merged};

fn keda(values: serde_json::Value) -> serde_json::Value {
    merged(
        merged(
            address(),
            json!({"worker": {"autoscaling": {"enabled": true, "type": "keda"}}}),
        ),
        values,
    )
}

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/// What one render tells KEDA and the worker.
struct Scaling {
    /// The trigger's metadata.
    metadata: BTreeMap<String, String>,
    /// TriggerAuthentication parameters: parameter -> `<secret>/<key>`.
    auth: BTreeMap<String, String>,
    /// The worker container's environment.
    env: BTreeMap<String, String>,
    /// Files the worker mounts from the Secret: key -> path.
    secret_files: BTreeMap<String, String>,
    scaled: Value,
}

fn scaling(python: &std::path::Path, values: &serde_json::Value) -> Scaling {
    let rendered = Render::default()
        .set(values.clone())
        .objects(python)
        .unwrap_or_else(|e| panic!("{values}: {e}"));
    crd_valid(python, &rendered, values);
    let scaled = rendered
        .get("ScaledObject", "flowgate-worker")
        .unwrap()
        .clone();
    let trigger = &scaled["spec"]["triggers"][0];
    assert_eq!(trigger["type"].as_str(), Some("temporal"));
    let metadata = trigger["metadata"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let value = v
                .as_str()
                .unwrap_or_else(|| panic!("{k:?} is not a string"));
            (k.as_str().unwrap().to_owned(), value.to_owned())
        })
        .collect();
    let mut auth = BTreeMap::new();
    if let Some(name) = trigger["authenticationRef"]["name"].as_str() {
        let trigger_auth = rendered.get("TriggerAuthentication", name).unwrap();
        for reference in trigger_auth["spec"]["secretTargetRef"]
            .as_sequence()
            .unwrap()
        {
            let field = |k: &str| reference[k].as_str().unwrap().to_owned();
            auth.insert(
                field("parameter"),
                format!("{}/{}", field("name"), field("key")),
            );
        }
    } else {
        assert!(
            rendered.of_kind("TriggerAuthentication").is_empty(),
            "{values}: a TriggerAuthentication nothing refers to"
        );
    }
    let pod = &rendered.get("Deployment", "flowgate-worker").unwrap()["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let env = container_env(container);
    let mut secret_files = BTreeMap::new();
    let secret_volume = pod["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| !v["secret"].is_null());
    if let Some(volume) = secret_volume {
        let mount = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["name"] == volume["name"])
            .unwrap();
        let dir = mount["mountPath"].as_str().unwrap();
        let secret = volume["secret"]["secretName"].as_str().unwrap();
        for key in ["temporal-tls.crt", "temporal-tls.key", "temporal-ca.crt"] {
            secret_files.insert(format!("{secret}/{key}"), format!("{dir}/{key}"));
        }
    }
    Scaling {
        metadata,
        auth,
        env,
        secret_files,
        scaled,
    }
}

/// The ScaledObject and TriggerAuthentication match KEDA's CRD schemas.
fn crd_valid(python: &std::path::Path, rendered: &Rendered, values: &serde_json::Value) {
    let mut command = Command::new(python);
    command.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/validate_crs.py"));
    let (ok, report) = pipe(command, &rendered.stream).unwrap();
    assert!(
        ok,
        "{values}: custom resources fail their CRD schema:\n{report}"
    );
}

impl Scaling {
    /// The worker uses TLS: `TEMPORAL_TLS`, or Temporal's default (on with an API key, a client
    /// certificate or a CA).
    fn worker_tls(&self) -> bool {
        match self.env.get("TEMPORAL_TLS").map(String::as_str) {
            Some("true") => true,
            Some("false") => false,
            Some(other) => panic!("TEMPORAL_TLS={other}"),
            None => {
                self.env.contains_key("TEMPORAL_API_KEY")
                    || self.env.contains_key("TEMPORAL_TLS_CLIENT_CERT_PATH")
                    || self.env.contains_key("TEMPORAL_TLS_SERVER_CA_CERT_PATH")
            }
        }
    }

    /// KEDA connects over TLS: with a client certificate always, with an API key unless
    /// `enableTLS` is "false" (KEDA's documented default is true), otherwise never.
    fn keda_tls(&self) -> bool {
        self.auth.contains_key("cert")
            || (self.auth.contains_key("apiKey")
                && self.metadata.get("enableTLS").map(String::as_str) != Some("false"))
    }

    /// The Secret file the worker reads for `variable`, as `<secret>/<key>`.
    fn worker_file(&self, variable: &str) -> Option<String> {
        let path = self.env.get(variable)?;
        self.secret_files
            .iter()
            .find(|(_, p)| *p == path)
            .map(|(reference, _)| reference.clone())
    }

    /// What every combination must satisfy: KEDA and the worker connect alike.
    fn agrees_with_the_worker(&self, case: &str) {
        assert_eq!(self.keda_tls(), self.worker_tls(), "{case}: TLS on/off");
        assert_eq!(
            self.auth.get("cert").cloned(),
            self.worker_file("TEMPORAL_TLS_CLIENT_CERT_PATH"),
            "{case}: client certificate"
        );
        assert_eq!(
            self.auth.get("key").cloned(),
            self.worker_file("TEMPORAL_TLS_CLIENT_KEY_PATH"),
            "{case}: client key"
        );
        assert_eq!(
            self.auth.get("ca").cloned(),
            self.worker_file("TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
            "{case}: CA"
        );
        if let Some(reference) = self.auth.get("apiKey") {
            assert_eq!(
                Some(&format!("secretKeyRef:{reference}")),
                self.env.get("TEMPORAL_API_KEY"),
                "{case}: API key"
            );
        }
        // TLS-only metadata only where KEDA uses TLS; never an insecure connection.
        if self.keda_tls() {
            assert_eq!(
                self.metadata.get("unsafeSsl").map(String::as_str),
                Some("false")
            );
            assert_eq!(
                self.metadata.get("tlsServerName"),
                self.env.get("TEMPORAL_TLS_SERVER_NAME"),
                "{case}: server name"
            );
        } else {
            assert!(!self.metadata.contains_key("unsafeSsl"), "{case}");
            assert!(!self.metadata.contains_key("tlsServerName"), "{case}");
        }
        // enableTLS only with an API key (KEDA: no effect otherwise).
        if !self.auth.contains_key("apiKey") {
            assert!(!self.metadata.contains_key("enableTLS"), "{case}");
        }
        assert_eq!(
            self.metadata["endpoint"], self.env["TEMPORAL_ADDRESS"],
            "{case}"
        );
        assert_eq!(
            self.metadata["namespace"], self.env["TEMPORAL_NAMESPACE"],
            "{case}"
        );
        assert_eq!(self.metadata["taskQueue"], "shopping-tasks", "{case}");
        assert_eq!(self.metadata["targetQueueSize"], "5", "{case}");
        assert_eq!(self.metadata["activationTargetQueueSize"], "0", "{case}");
        assert_eq!(self.metadata["queueTypes"], "workflow,activity", "{case}");
    }
}

#[test]
fn plain_temporal_gives_keda_no_credentials_and_no_tls() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (case, values) in [
        ("default", json!({})),
        ("tls off", json!({"temporal": {"tls": {"enabled": false}}})),
    ] {
        let s = scaling(&python, &keda(values));
        s.agrees_with_the_worker(case);
        assert!(!s.keda_tls() && !s.worker_tls(), "{case}");
        assert!(s.auth.is_empty(), "{case}: {:?}", s.auth);
        assert!(s.scaled["spec"]["triggers"][0]["authenticationRef"].is_null());
    }
}

#[test]
fn an_api_key_reaches_keda_with_tls_as_the_worker_uses_it() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // An API key implies TLS for the worker (Temporal's convention) and for KEDA (enableTLS
    // defaults to true): nothing to say unless TLS is off.
    let s = scaling(&python, &keda(json!({"temporal": {"apiKey": "k"}})));
    s.agrees_with_the_worker("api key");
    assert!(s.worker_tls());
    assert_eq!(s.auth["apiKey"], "flowgate/temporal-api-key");
    assert_eq!(s.auth.len(), 1);
    assert!(!s.metadata.contains_key("enableTLS"));

    let s = scaling(
        &python,
        &keda(
            json!({"temporal": {"apiKey": "k", "tls": {"enabled": true, "serverName": "ns.acct.tmprl.cloud"}}}),
        ),
    );
    s.agrees_with_the_worker("api key, tls on, server name");
    assert_eq!(s.metadata["tlsServerName"], "ns.acct.tmprl.cloud");

    // A self-hosted Temporal over plaintext with an API key: KEDA's enableTLS "false".
    let s = scaling(
        &python,
        &keda(json!({"temporal": {"apiKey": "k", "tls": {"enabled": false}}})),
    );
    s.agrees_with_the_worker("api key, tls off");
    assert_eq!(s.env["TEMPORAL_TLS"], "false");
    assert_eq!(s.metadata["enableTLS"], "false");

    // The key in the user's Secret, handed to KEDA on request.
    let s = scaling(
        &python,
        &keda(json!({
            "existingSecret": "flowgate-credentials",
            "temporal": {"tls": {"enabled": true}},
            "worker": {"autoscaling": {"keda": {"useApiKey": true}}},
        })),
    );
    s.agrees_with_the_worker("existing secret api key");
    assert_eq!(s.auth["apiKey"], "flowgate-credentials/temporal-api-key");
}

#[test]
fn an_api_key_with_a_private_ca_gives_keda_the_ca_too() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    for (case, tls) in [
        ("tls default", json!({"customCA": true, "ca": PEM})),
        (
            "tls on",
            json!({"enabled": true, "customCA": true, "ca": PEM, "serverName": "temporal.internal"}),
        ),
    ] {
        let s = scaling(
            &python,
            &keda(json!({"temporal": {"apiKey": "k", "tls": tls}})),
        );
        s.agrees_with_the_worker(case);
        assert!(s.worker_tls(), "{case}");
        assert_eq!(s.auth["apiKey"], "flowgate/temporal-api-key", "{case}");
        assert_eq!(s.auth["ca"], "flowgate/temporal-ca.crt", "{case}");
        assert!(!s.auth.contains_key("cert"), "{case}");
    }
}

#[test]
fn a_client_certificate_reaches_keda_as_cert_and_key_with_the_ca_when_there_is_one() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let mtls = json!({"mtls": true, "clientCert": PEM, "clientKey": "KEY"});
    for (case, extra, ca) in [
        ("mtls", json!({}), false),
        ("mtls, tls on", json!({"enabled": true}), false),
        ("mtls + ca", json!({"customCA": true, "ca": PEM}), true),
        (
            "mtls + ca + server name",
            json!({"enabled": true, "customCA": true, "ca": PEM, "serverName": "temporal.internal"}),
            true,
        ),
    ] {
        let s = scaling(
            &python,
            &keda(json!({"temporal": {"tls": merged(mtls.clone(), extra)}})),
        );
        s.agrees_with_the_worker(case);
        assert!(s.worker_tls(), "{case}");
        assert_eq!(s.auth["cert"], "flowgate/temporal-tls.crt", "{case}");
        assert_eq!(s.auth["key"], "flowgate/temporal-tls.key", "{case}");
        assert_eq!(s.auth.contains_key("ca"), ca, "{case}");
        assert!(!s.auth.contains_key("apiKey"), "{case}");
    }
    // The user's Secret, as profiles/existing-secret.yaml sets it up.
    let s = scaling(
        &python,
        &keda(json!({
            "existingSecret": "flowgate-credentials",
            "temporal": {"tls": {"enabled": true, "mtls": true, "customCA": true, "serverName": "temporal.internal"}},
        })),
    );
    s.agrees_with_the_worker("existing secret mtls");
    assert_eq!(s.auth["cert"], "flowgate-credentials/temporal-tls.crt");
    assert_eq!(s.auth["ca"], "flowgate-credentials/temporal-ca.crt");
}

#[test]
fn connections_keda_cannot_make_are_refused_naming_the_way_out() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    // KEDA's temporal scaler opens TLS only with an API key or a client certificate.
    for tls in [
        json!({"enabled": true}),
        json!({"enabled": true, "customCA": true, "ca": PEM}),
        json!({"customCA": true, "ca": PEM}),
    ] {
        let values = keda(json!({"temporal": {"tls": tls}}));
        let error = crate::helm::refusal(&python, &values);
        assert!(
            error.contains(
                "KEDA's temporal scaler opens TLS only with an API key or a client certificate"
            ) && error.contains("worker.autoscaling.type: hpa"),
            "{values}: {error}"
        );
    }
    let values = keda(
        json!({"temporal": {"tls": {"enabled": false, "mtls": true, "clientCert": PEM, "clientKey": "KEY"}}}),
    );
    let error = Render::default()
        .set(values)
        .manifests(&python)
        .unwrap_err();
    assert!(
        error.to_string().contains("a client certificate needs TLS"),
        "{error}"
    );
}

#[test]
fn fallback_and_scaling_behavior_reach_the_scaled_object() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let s = scaling(&python, &keda(json!({})));
    let spec = &s.scaled["spec"];
    assert_eq!(spec["fallback"]["failureThreshold"].as_u64(), Some(3));
    assert_eq!(spec["fallback"]["replicas"].as_u64(), Some(2));
    assert!(spec["advanced"].is_null(), "no behavior unless asked for");

    let behavior = json!({
        "scaleDown": {"stabilizationWindowSeconds": 600, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
        "scaleUp": {"stabilizationWindowSeconds": 0},
    });
    let s = scaling(
        &python,
        &keda(json!({"worker": {"autoscaling": {"keda": {
            "fallback": {"failureThreshold": 5, "replicas": 4},
            "behavior": behavior,
        }}}})),
    );
    let spec = &s.scaled["spec"];
    assert_eq!(spec["fallback"]["failureThreshold"].as_u64(), Some(5));
    assert_eq!(spec["fallback"]["replicas"].as_u64(), Some(4));
    let rendered: serde_json::Value =
        serde_json::to_value(&spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"])
            .unwrap();
    assert_eq!(rendered, behavior);

    let s = scaling(
        &python,
        &keda(json!({"worker": {"autoscaling": {"keda": {"fallback": {"enabled": false}}}}})),
    );
    assert!(s.scaled["spec"]["fallback"].is_null());

    let error = Render::default()
        .set(keda(json!({"worker": {"autoscaling": {"maxReplicas": 3, "keda": {"fallback": {"replicas": 4}}}}})))
        .manifests(&python)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("worker.autoscaling.keda.fallback.replicas (4) exceeds worker.autoscaling.maxReplicas (3)"),
        "{error}"
    );
}
