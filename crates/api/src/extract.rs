//! Extractors whose rejections are [`ApiError`]s, so malformed input gets the same
//! problem+json answers as everything else.

use std::time::Duration;

use axum::{
    extract::{FromRequest, FromRequestParts, Path, Request},
    http::{header, request::Parts},
};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use flowgate_workflows::wording::client_terms;

use crate::{
    error::{ApiError, FieldError},
    state::AppState,
};

/// A JSON body: 415 unless declared as JSON, 413 above the configured limit (decided from
/// `Content-Length` before reading, or while reading a chunked body), 400 for malformed JSON
/// (with line and column), 422 for well-formed JSON of the wrong shape (with the field's pointer).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        check_content_type(request.headers().get(header::CONTENT_TYPE))?;
        let body = read_body(request, state).await?;
        parse_json(&body).map(ApiJson)
    }
}

/// The whole body, refused with 413 above `api.body_limit_bytes` (from `Content-Length` before
/// reading, or while reading a chunked body).
pub(crate) async fn read_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let limit = state.settings.api.body_limit_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::MalformedJson(format!("could not read the request body: {rejection}"))
            }
        })
}

pub(crate) fn check_content_type(value: Option<&http::HeaderValue>) -> Result<(), ApiError> {
    let Some(value) = value else {
        return Err(ApiError::UnsupportedMediaType("no Content-Type".to_owned()));
    };
    let text = value.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!("{text:?}")))
    }
}

/// Parses `body` as the object `T`, classifying errors as syntax (400) or shape (422).
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde would read a JSON array as a struct's fields in order; request bodies are objects.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        serde_json::from_slice::<serde_json::Value>(body)
            .map_err(|e| ApiError::MalformedJson(format!("malformed JSON: {e}")))?;
        return Err(ApiError::Validation(vec![FieldError::new(
            "",
            "must be a JSON object",
        )]));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let mut pointer = to_pointer(error.path());
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let worded = client_terms(&strip_position(&inner.to_string()));
                if let Some(field) = worded.field {
                    // A missing field is reported at its object; an unknown one at itself.
                    let token = format!("/{}", field.replace('~', "~0").replace('/', "~1"));
                    if !pointer.ends_with(&token) {
                        pointer.push_str(&token);
                    }
                }
                ApiError::Validation(vec![FieldError::new(pointer, worded.detail)])
            }
            _ => ApiError::MalformedJson(format!("malformed JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::MalformedJson(format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn to_pointer(path: &serde_path_to_error::Path) -> String {
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            _ => None,
        })
        .collect()
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The `{workflow_id}` path segment, percent-decoded.
#[derive(Debug)]
pub(crate) struct WorkflowIdPath(pub String);

/// Longest workflow id, in a body or a path.
const MAX_WORKFLOW_ID_LEN: usize = 255;

/// Whether `id` may be a workflow id: not blank, at most 255 characters, no control
/// characters. Ids in bodies and paths are checked alike, before Temporal is asked anything.
pub(crate) fn check_workflow_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    if id.chars().count() > MAX_WORKFLOW_ID_LEN {
        return Err(format!("must be at most {MAX_WORKFLOW_ID_LEN} characters"));
    }
    if id.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(())
}

/// Whether `id` has the form of the ids Flowgate makes itself (`<a registered prefix><UUID>`:
/// generated, or derived from an Idempotency-Key). A client may not choose one, or it could take
/// the id another client's key will use.
pub(crate) fn is_flowgate_id(id: &str) -> bool {
    flowgate_workflows::registry::registry()
        .all()
        .iter()
        .filter_map(|def| id.strip_prefix(def.id_prefix))
        .any(|rest| uuid::Uuid::try_parse(rest).is_ok())
}

/// Whether `id` is one of Flowgate's own workflows (the delivery of completion webhooks): no
/// `/v1` route reaches it, and it answers as a workflow that does not exist.
pub(crate) fn is_internal_id(id: &str) -> bool {
    id.starts_with(flowgate_workflows::callbacks::DELIVERY_ID_PREFIX)
}

/// [`check_workflow_id`] for an id a client chooses in a body: not of [`is_flowgate_id`]'s form
/// either, nor one of Flowgate's own.
pub(crate) fn check_chosen_workflow_id(id: &str) -> Result<(), String> {
    check_workflow_id(id)?;
    if is_internal_id(id) {
        return Err(format!(
            "must not start with {:?}, reserved for Flowgate",
            flowgate_workflows::callbacks::DELIVERY_ID_PREFIX
        ));
    }
    if is_flowgate_id(id) {
        return Err(
            "has the form of the ids Flowgate makes itself (<prefix><UUID>); choose another"
                .to_owned(),
        );
    }
    Ok(())
}

fn checked_path_id(id: String) -> Result<String, ApiError> {
    check_workflow_id(&id)
        .map_err(|problem| ApiError::InvalidPath(format!("workflow id {problem}")))?;
    if is_internal_id(&id) {
        return Err(ApiError::WorkflowNotFound(id));
    }
    Ok(id)
}

impl<S: Send + Sync> FromRequestParts<S> for WorkflowIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::InvalidPath(e.body_text()))?;
        Ok(Self(checked_path_id(id)?))
    }
}

/// `{workflow_id}` and `{name}` path segments (a signal, query or update), percent-decoded.
#[derive(Debug)]
pub(crate) struct MessagePath {
    /// The workflow id.
    pub workflow_id: String,
    /// The message name.
    pub name: String,
}

impl<S: Send + Sync> FromRequestParts<S> for MessagePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((workflow_id, name)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::InvalidPath(e.body_text()))?;
        Ok(Self {
            workflow_id: checked_path_id(workflow_id)?,
            name,
        })
    }
}

/// `{workflow_id}`, `{name}` and `{update_id}` path segments (an update sent earlier),
/// percent-decoded.
#[derive(Debug)]
pub(crate) struct UpdatePath {
    /// The workflow id.
    pub workflow_id: String,
    /// The update's name.
    pub name: String,
    /// The update's id.
    pub update_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for UpdatePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((workflow_id, name, update_id)) =
            Path::<(String, String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::InvalidPath(e.body_text()))?;
        check_workflow_id(&update_id)
            .map_err(|problem| ApiError::InvalidPath(format!("update id {problem}")))?;
        Ok(Self {
            workflow_id: checked_path_id(workflow_id)?,
            name,
            update_id,
        })
    }
}

/// `?run_id=`: one run of the workflow instead of its latest (describe and result).
#[derive(Debug)]
pub(crate) struct RunIdQuery(pub Option<String>);

#[derive(Debug, serde::Deserialize)]
struct RunIdParams {
    run_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RunIdQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let invalid = |problem: String| ApiError::InvalidQuery {
            name: "run_id",
            problem,
        };
        let axum::extract::Query(params) =
            axum::extract::Query::<RunIdParams>::try_from_uri(&parts.uri)
                .map_err(|e| invalid(e.body_text()))?;
        // Temporal's run ids are UUIDs; anything else is refused before Temporal is asked.
        if let Some(run_id) = &params.run_id
            && uuid::Uuid::try_parse(run_id).is_err()
        {
            return Err(invalid(format!("{run_id:?} is not a run id (a UUID)")));
        }
        Ok(Self(params.run_id))
    }
}

/// A wait (`?wait=`): seconds (`10`, `2.5`) or a duration (`500ms`, `1m`), at most a day.
pub(crate) fn parse_wait(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    humantime::parse_duration(raw).ok()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "only parsed")]
    struct Item {
        amount: i64,
    }

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "only parsed")]
    struct Body {
        items: Vec<Item>,
    }

    fn pointer_of(body: &str) -> (String, String) {
        match parse_json::<Body>(body.as_bytes()) {
            Err(ApiError::Validation(errors)) => {
                (errors[0].pointer.clone(), errors[0].detail.clone())
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_is_a_validation_error_at_its_field() {
        let (pointer, detail) = pointer_of(r#"{"items":[{"amount":1},{"amount":"five"}]}"#);
        assert_eq!(pointer, "/items/1/amount");
        assert_eq!(detail, r#"must be a whole number, got the string "five""#);
    }

    #[test]
    fn a_missing_field_points_at_the_field() {
        assert_eq!(pointer_of(r#"{}"#).0, "/items");
    }

    #[test]
    fn malformed_json_says_where() {
        match parse_json::<Body>(b"{\"items\": [") {
            Err(ApiError::MalformedJson(message)) => {
                assert!(message.contains("line 1 column"), "{message}")
            }
            other => panic!("expected malformed JSON, got {other:?}"),
        }
    }

    #[test]
    fn trailing_garbage_is_malformed() {
        assert!(matches!(
            parse_json::<Body>(b"{\"items\":[]} x"),
            Err(ApiError::MalformedJson(_))
        ));
    }

    #[test]
    fn json_media_types_are_recognised() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(
                check_content_type(Some(&http::HeaderValue::from_static(ok))).is_ok(),
                "{ok}"
            );
        }
        for bad in ["text/plain", "application/x-www-form-urlencoded", ""] {
            assert!(
                check_content_type(Some(&http::HeaderValue::from_static(bad))).is_err(),
                "{bad}"
            );
        }
        assert!(check_content_type(None).is_err());
    }

    #[test]
    fn chosen_workflow_ids_are_checked() {
        assert!(check_chosen_workflow_id("order-42/β").is_ok());
        assert!(check_chosen_workflow_id(" ").is_err());
        assert!(check_chosen_workflow_id("a\nb").is_err());
        assert!(check_chosen_workflow_id(&"x".repeat(256)).is_err());
        let flowgate_made = format!("shopping-workflow-{}", uuid::Uuid::new_v4());
        assert!(
            check_chosen_workflow_id(&flowgate_made).is_err(),
            "reserved"
        );
        assert!(check_chosen_workflow_id("order-approval-1f2e").is_ok());
    }

    #[test]
    fn waits_accept_seconds_and_durations() {
        assert_eq!(parse_wait("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_wait("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_wait("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_wait("0"), Some(Duration::ZERO));
        assert_eq!(parse_wait("-1"), None);
        assert_eq!(parse_wait("soon"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_wait_text_is_parsed_or_refused_without_panicking(raw in "\\PC{0,30}") {
            let _ = parse_wait(&raw);
        }

        #[test]
        fn whole_seconds_wait_that_long_up_to_a_day(seconds in 0u64..10_000_000) {
            proptest::prop_assert_eq!(
                parse_wait(&seconds.to_string()),
                Some(Duration::from_secs(seconds.min(86_400)))
            );
        }

        #[test]
        fn durations_with_units_wait_that_long(millis in 0u64..1_000_000_000) {
            proptest::prop_assert_eq!(parse_wait(&format!("{millis}ms")), Some(Duration::from_millis(millis)));
        }

        #[test]
        fn workflow_ids_are_accepted_exactly_when_not_blank_short_and_without_controls(id in "\\PC{0,3}[\\x00-\\x1f\\x7f ]?\\PC{0,3}|.{250,260}") {
            let expected = !id.trim().is_empty()
                && id.chars().count() <= 255
                && !id.chars().any(char::is_control);
            proptest::prop_assert_eq!(check_workflow_id(&id).is_ok(), expected, "{:?}", id);
        }

        #[test]
        fn a_wrong_type_under_any_field_names_is_reported_at_their_escaped_pointer(
            outer in "[a-z~/ 0-9]{1,8}",
            inner in "[a-z~/ 0-9]{1,8}",
        ) {
            let body = serde_json::json!({ outer.clone(): { inner.clone(): "not a number" } }).to_string();
            let escape = |name: &str| name.replace('~', "~0").replace('/', "~1");
            let error = parse_json::<std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>>(body.as_bytes()).unwrap_err();
            let ApiError::Validation(errors) = error else {
                return Err(proptest::test_runner::TestCaseError::fail(format!("{error:?}")));
            };
            proptest::prop_assert_eq!(&errors[0].pointer, &format!("/{}/{}", escape(&outer), escape(&inner)));
        }
    }
}
