//! The install notes (NOTES.txt, rendered by the Helm engine with the manifests): they say how to
//! reach the API as the release exposes it — a port-forward, the Ingress's URL, the HTTPRoute's
//! host or its Gateway's address — and the example call carries the header the API reads
//! credentials from whenever authentication is on.

use flowgate_deploy_checks::{
    helm::{Render, profile_path},
    repo_root, tools,
};
use serde_json::json;

use crate::helm_values::{address, merged};

/// The API key the examples turn authentication on with (its hash only).
fn api_keys() -> serde_json::Value {
    json!({"config": {"auth": {
        "enabled": true,
        "api_keys": [{"name": "ci", "sha256": "ab".repeat(32), "permissions": ["*:*"]}],
    }}})
}

/// The example `curl` call of the notes, its continuation lines joined.
fn curl(notes: &str) -> String {
    let start = notes
        .find("curl ")
        .unwrap_or_else(|| panic!("no curl call in:\n{notes}"));
    let mut command = String::new();
    for line in notes[start..].lines() {
        let line = line.trim();
        match line.strip_suffix('\\') {
            Some(continued) => command.push_str(continued),
            None => {
                command.push_str(line);
                break;
            }
        }
    }
    command
}

#[test]
fn the_notes_say_how_to_reach_the_api_as_the_release_exposes_it() {
    let Some(python) = tools::helm_python_or_skip() else {
        return;
    };
    let route = json!({"httpRoute": {
        "enabled": true,
        "parentRefs": [{"name": "public", "namespace": "gateway"}],
        "hostnames": ["api.example.com"],
    }});
    // (case, how, lines the notes must have, the call's URL, whether it sends credentials)
    let cases = [
        (
            "port-forward",
            Render::default().set(address()),
            vec![
                "kubectl -n flowgate port-forward svc/flowgate-api 8000:8000",
                "Try it (with the port-forward above):",
                "API reference: http://localhost:8000/docs",
            ],
            "http://localhost:8000/workflows/shopping",
            false,
        ),
        (
            "port-forward, keys from a Secret",
            Render::default().set(merged(
                address(),
                json!({"api": {"auth": {"existingSecret": "flowgate-auth"}}}),
            )),
            vec!["kubectl -n flowgate port-forward svc/flowgate-api 8000:8000"],
            "http://localhost:8000/workflows/shopping",
            true,
        ),
        (
            "ingress with TLS",
            Render::files([profile_path("ingress-tls")]).set(address()),
            vec![
                "  https://flowgate.example.com/",
                "API reference: https://flowgate.example.com/docs",
            ],
            "https://flowgate.example.com/workflows/shopping",
            true,
        ),
        (
            "ingress without TLS, authenticated in front",
            Render::default().set(merged(
                address(),
                json!({"ingress": {"enabled": true, "allowUnauthenticated": true,
                    "hosts": [{"host": "flowgate.internal", "paths": [{"path": "/", "pathType": "Prefix"}]}]}}),
            )),
            vec!["  http://flowgate.internal/"],
            "http://flowgate.internal/workflows/shopping",
            false,
        ),
        (
            "httproute",
            Render::default().set(merged(merged(address(), route.clone()), api_keys())),
            vec![
                "through the Gateway gateway/public (HTTPRoute flowgate-api)",
                "https://api.example.com/   (http:// if the Gateway's listener is plain HTTP)",
            ],
            "https://api.example.com/workflows/shopping",
            true,
        ),
        (
            "httproute without host names",
            Render::default().set(merged(
                merged(
                    address(),
                    json!({"httpRoute": {"enabled": true, "parentRefs": [{"name": "public"}]}}),
                ),
                api_keys(),
            )),
            vec![
                "through the Gateway flowgate/public (HTTPRoute flowgate-api)",
                "GATEWAY_ADDRESS=$(kubectl -n flowgate get gateway public -o jsonpath='{.status.addresses[0].value}')",
            ],
            "http://$GATEWAY_ADDRESS/workflows/shopping",
            true,
        ),
    ];
    for (case, how, lines, url, authenticated) in cases {
        let notes = how
            .objects(&python)
            .unwrap_or_else(|e| panic!("{case}: {e}"))
            .notes;
        for line in lines {
            assert!(
                notes.lines().any(|l| l.trim() == line.trim()),
                "{case}: no line {line:?} in:\n{notes}"
            );
        }
        let exposed = !case.starts_with("port-forward");
        assert_eq!(
            notes.contains("port-forward svc/flowgate-api"),
            !exposed,
            "{case}:\n{notes}"
        );
        let call = curl(&notes);
        assert!(
            call.starts_with(&format!("curl -X POST {url} ")),
            "{case}: {call}"
        );
        assert!(
            call.contains("-d '{\"items\""),
            "{case}: the call is cut: {call}"
        );
        assert_eq!(
            call.contains(r#"-H "Authorization: Bearer $TOKEN_OR_API_KEY""#),
            authenticated,
            "{case}: {call}"
        );
        assert_eq!(
            notes.contains("Authentication is on"),
            authenticated,
            "{case}:\n{notes}"
        );
    }
}

#[test]
fn the_notes_send_credentials_the_way_the_api_reads_them() {
    // docs/authentication.md: keys and tokens alike as a bearer token.
    let docs = std::fs::read_to_string(repo_root().join("docs/authentication.md")).unwrap();
    assert!(
        docs.contains("send a key as `Authorization: Bearer <key>`"),
        "docs/authentication.md changed how keys are sent: update NOTES.txt"
    );
    assert!(docs.contains("`Authorization: Bearer <jwt>`"));
    let notes = std::fs::read_to_string(
        flowgate_deploy_checks::helm::chart_dir().join("templates/NOTES.txt"),
    )
    .unwrap();
    assert!(notes.contains(r#"-H "Authorization: Bearer $TOKEN_OR_API_KEY""#));
}
