//! Completion webhooks on the API's side: a start's `callbacks` checked against the destination
//! rules (`[webhooks]`), and `GET /v1/workflows/{workflow_id}/callbacks`, where their deliveries
//! stand.
//!
//! A callback's host is resolved at the start and refused when any of its addresses is not
//! public (unless `webhooks.allow_private_addresses`); the worker checks again on every attempt
//! and connects only to the address it checked.

use std::time::Duration;

use axum::{Json, extract::State};
use flowgate_config::WebhookSettings;
use flowgate_workflows::callbacks::{Callback, DeliveryState, MAX_CALLBACKS, MAX_URL_LEN};

use crate::{
    error::{ApiError, FieldError, Problem},
    extract::{RunIdQuery, WorkflowIdPath},
    state::AppState,
};

/// What every start operation's description says of `callbacks`.
pub(crate) const START_DESCRIPTION: &str = "**Callbacks.** `callbacks` (at most 5) names URLs to notify when the workflow closes, each optionally only for some closes (`events`: completed, failed, canceled, terminated, timed_out). Flowgate POSTs a `WebhookNotification` (JSON: `type` such as `workflow.completed`, `timestamp`, and `data` with the workflow id, run id, type, status, result or error, start and close times), signed per Standard Webhooks: headers `webhook-id` (the same on every attempt: drop duplicates by it), `webhook-timestamp` (seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per signing secret, space separated). Any 2xx is a delivery; anything else is retried with back-off for the deployment's `webhooks.retry_for`, also across restarts. Redirects are not followed. URLs must be https, on an allowed host, and not resolve to a private, loopback or link-local address (else 422 at `/callbacks/{i}/url`). `GET /v1/workflows/{workflow_id}/callbacks` shows each delivery.";

/// Longest wait for a callback host's addresses.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Every problem of `callbacks`, at its pointer (`/callbacks/0/url`).
pub(crate) async fn check(settings: &WebhookSettings, callbacks: &[Callback]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if callbacks.len() > MAX_CALLBACKS {
        errors.push(FieldError::new(
            "/callbacks",
            format!("must have at most {MAX_CALLBACKS} callbacks"),
        ));
        return errors;
    }
    for (index, callback) in callbacks.iter().enumerate() {
        if let Err(problem) = check_url(settings, &callback.url).await {
            errors.push(FieldError::new(format!("/callbacks/{index}/url"), problem));
        }
        if callback.events.as_ref().is_some_and(Vec::is_empty) {
            errors.push(FieldError::new(
                format!("/callbacks/{index}/events"),
                "must name at least one event, or be left out for every close",
            ));
        }
    }
    errors
}

/// Why `raw` may not be a callback URL, if it may not.
async fn check_url(settings: &WebhookSettings, raw: &str) -> Result<(), String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute https:// URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_http => {}
        _ if settings.allow_http => return Err("must be an https:// or http:// URL".to_owned()),
        _ => return Err("must be an https:// URL".to_owned()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (the notification is signed instead)".to_owned());
    }
    let (host, literal) = match url.host() {
        Some(url::Host::Domain(name)) => (name.to_owned(), None),
        Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(std::net::IpAddr::V4(ip))),
        Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(std::net::IpAddr::V6(ip))),
        None => return Err("must name a host".to_owned()),
    };
    if !settings.host_allowed(&host) {
        return Err(format!(
            "host {host} is not among the hosts this deployment allows for callbacks"
        ));
    }
    let refused = || {
        format!(
            "host {host} is a private, loopback or link-local address, which callbacks may not reach"
        )
    };
    if let Some(ip) = literal {
        return if settings.address_allowed(ip) {
            Ok(())
        } else {
            Err(refused())
        };
    }
    if settings.allow_private_addresses {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let found = tokio::time::timeout(
        RESOLVE_TIMEOUT,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .map(Iterator::collect::<Vec<_>>)
    .unwrap_or_default();
    if found.is_empty() {
        return Err(format!("host {host} cannot be resolved"));
    }
    if found
        .iter()
        .any(|address| !settings.address_allowed(address.ip()))
    {
        return Err(format!(
            "host {host} resolves to a private, loopback or link-local address, which callbacks may not reach"
        ));
    }
    Ok(())
}

/// Where the notifications of the workflow's run (its latest, or the one `?run_id=` names)
/// stand: each callback's status, attempts, last error and delivery time.
#[utoipa::path(get, path = "/v1/workflows/{workflow_id}/callbacks", tag = "v1",
    params(
        ("workflow_id" = String, Path, description = "Workflow id (percent-encoded)"),
        ("run_id" = Option<String>, Query, description = "One run of the workflow; default: its latest run"),
    ),
    responses(
        (status = 200, description = "The run's callbacks and their deliveries", body = DeliveryState),
        (status = 400, description = "Invalid workflow id in the path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow (or run), or its start named no callbacks", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid run_id", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_callbacks(
    State(state): State<AppState>,
    WorkflowIdPath(workflow_id): WorkflowIdPath,
    RunIdQuery(run_id): RunIdQuery,
) -> Result<Json<DeliveryState>, ApiError> {
    let run_id = match run_id {
        Some(run_id) => run_id,
        None => state.gateway.describe_execution(&workflow_id).await?.run_id,
    };
    Ok(Json(
        state.gateway.callback_state(&workflow_id, &run_id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callback(url: &str) -> Callback {
        Callback {
            url: url.to_owned(),
            events: None,
        }
    }

    #[tokio::test]
    async fn private_loopback_and_link_local_destinations_are_refused() {
        let settings = WebhookSettings::default();
        for url in [
            "https://127.0.0.1/hook",
            "https://10.0.0.8/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fc00::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://localhost/hook",
            "https://2130706433/hook",
            "https://0x7f.1/hook",
            "https://0/hook",
        ] {
            let errors = check(&settings, &[callback(url)]).await;
            assert_eq!(errors.len(), 1, "{url} was accepted");
            assert_eq!(errors[0].pointer, "/callbacks/0/url");
        }
    }

    #[tokio::test]
    async fn scheme_credentials_count_and_filters_are_checked() {
        let settings = WebhookSettings {
            allow_private_addresses: true,
            ..WebhookSettings::default()
        };
        assert!(
            check(&settings, &[callback("https://127.0.0.1/ok")])
                .await
                .is_empty()
        );
        let detail = |errors: Vec<FieldError>| errors[0].detail.clone();
        assert!(detail(check(&settings, &[callback("http://127.0.0.1/")]).await).contains("https"));
        assert!(detail(check(&settings, &[callback("ftp://127.0.0.1/")]).await).contains("https"));
        assert!(
            detail(check(&settings, &[callback("https://u:p@127.0.0.1/")]).await)
                .contains("credentials")
        );
        let many = vec![callback("https://127.0.0.1/"); MAX_CALLBACKS + 1];
        assert_eq!(check(&settings, &many).await[0].pointer, "/callbacks");
        let none = Callback {
            events: Some(Vec::new()),
            ..callback("https://127.0.0.1/")
        };
        assert_eq!(
            check(&settings, &[none]).await[0].pointer,
            "/callbacks/0/events"
        );
        let only = WebhookSettings {
            allowed_hosts: vec!["hooks.example.com".to_owned()],
            ..settings
        };
        assert!(
            detail(check(&only, &[callback("https://127.0.0.1/")]).await).contains("not among")
        );
    }
}
