//! The client, its builder, and what every call shares: URLs, timeouts, decoding answers.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{
    RequestBuilder, Response, StatusCode,
    header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER},
};
use serde::de::DeserializeOwned;

use crate::{Error, Problem};

/// Everything but RFC 3986's unreserved characters is encoded, so any workflow id (with `/`,
/// spaces, `%`, `?`, `#`, unicode) stays one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How much of a non-problem error body an [`Error::Unexpected`] keeps.
const BODY_EXCERPT: usize = 1024;

/// A typed client of one Flowgate API. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
    server_wait: Duration,
    events_max_age: Duration,
}

/// Configures a [`Client`]: timeouts and headers sent with every request.
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    server_wait: Duration,
    events_max_age: Duration,
    headers: HeaderMap,
    invalid_header: Option<String>,
}

impl ClientBuilder {
    /// Time allowed for a request that does not wait for a workflow (default 30 s). A request
    /// that waits gets its wait added on top.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The API's `api.result_wait` (default 30 s): how long the guide's synchronous start and a
    /// result request without an explicit wait may be held by the server.
    pub fn server_wait(mut self, wait: Duration) -> Self {
        self.server_wait = wait;
        self
    }

    /// The API's `api.events.max_age` (default 15 min): how long the server may hold a resumed
    /// event stream before its first event (see [`Client::events`]).
    pub fn events_max_age(mut self, max_age: Duration) -> Self {
        self.events_max_age = max_age;
        self
    }

    /// A header sent with every request, e.g. `authorization` once the API requires a key.
    /// An invalid name or value makes [`ClientBuilder::build`] fail.
    pub fn default_header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(mut value)) => {
                value.set_sensitive(true);
                self.headers.insert(name, value);
            }
            _ => self.invalid_header = Some(format!("{name:?} or its value")),
        }
        self
    }

    /// Authenticates every request with `Authorization: Bearer <credential>`: an API key or a
    /// JWT (when the API has `auth.enabled`). Never printed by `Debug`.
    pub fn bearer(self, credential: &str) -> Self {
        self.default_header("authorization", &format!("Bearer {credential}"))
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        if let Some(header) = self.invalid_header {
            return Err(Error::InvalidHeader(header));
        }
        let base = parse_base(&self.base_url)?;
        let http = reqwest::Client::builder()
            .default_headers(self.headers)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Client {
            http,
            base,
            timeout: self.timeout,
            server_wait: self.server_wait,
            events_max_age: self.events_max_age,
        })
    }
}

/// The base URL without its trailing `/`; it may carry a path prefix (`https://host/flowgate`).
fn parse_base(raw: &str) -> Result<String, Error> {
    let invalid = |reason: &str| Error::InvalidBaseUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl Client {
    /// A client of the API at `base_url` (e.g. `http://localhost:8000`) with default settings.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        Self::builder(base_url).build()
    }

    /// A builder for a client of the API at `base_url`.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            timeout: Duration::from_secs(30),
            server_wait: Duration::from_secs(30),
            events_max_age: Duration::from_secs(15 * 60),
            headers: HeaderMap::new(),
            invalid_header: None,
        }
    }

    /// The base URL requests go to (without a trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `base` + `path`, where `path` is already encoded.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's default wait, for requests that may be held that long.
    pub(crate) fn server_wait(&self) -> Duration {
        self.server_wait
    }

    /// The time allowed for a request that does not wait.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The API's `api.events.max_age`.
    pub(crate) fn events_max_age(&self) -> Duration {
        self.events_max_age
    }

    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(self.url(path))
    }

    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(path))
    }

    /// Sends `request`, allowing `wait` on top of the timeout.
    pub(crate) async fn send(
        &self,
        request: RequestBuilder,
        wait: Duration,
    ) -> Result<Response, Error> {
        Ok(request
            .timeout(self.timeout.saturating_add(wait))
            .send()
            .await?)
    }

    /// Sends `request` and decodes a successful answer as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        wait: Duration,
    ) -> Result<T, Error> {
        let response = self.send(request, wait).await?;
        Ok(decode(response).await?.2)
    }
}

/// A workflow id (or a name) as one percent-encoded path segment.
pub(crate) fn segment(raw: &str) -> String {
    utf8_percent_encode(raw, SEGMENT).to_string()
}

/// A JSON body.
pub(crate) fn json_body(request: RequestBuilder, body: Vec<u8>) -> RequestBuilder {
    request
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(body)
}

/// The answer's status, headers and body as `T`, or the problem it reports.
pub(crate) async fn decode<T: DeserializeOwned>(
    response: Response,
) -> Result<(StatusCode, HeaderMap, T), Error> {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    if !status.is_success() {
        return Err(error_of(status, &headers, &bytes));
    }
    let value = serde_json::from_slice(&bytes).map_err(|source| Error::Decode {
        status: status.as_u16(),
        source,
    })?;
    Ok((status, headers, value))
}

/// The error an unsuccessful answer stands for.
pub(crate) fn error_of(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    match serde_json::from_slice::<Problem>(body) {
        Ok(mut problem) => {
            problem.retry_after = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs);
            Error::Problem(Box::new(problem))
        }
        Err(_) => Error::Unexpected {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT)]).into_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_id_is_one_path_segment() {
        assert_eq!(segment("orders/2026/42"), "orders%2F2026%2F42");
        assert_eq!(segment("a b%2F?#"), "a%20b%252F%3F%23");
        assert_eq!(segment("β-✓_x.y~"), "%CE%B2-%E2%9C%93_x.y~");
    }

    #[test]
    fn a_base_url_keeps_its_path_prefix_without_the_trailing_slash() {
        assert_eq!(
            parse_base("https://host/flowgate/").unwrap(),
            "https://host/flowgate"
        );
        assert_eq!(
            parse_base("http://localhost:8000").unwrap(),
            "http://localhost:8000"
        );
        assert!(parse_base("localhost:8000").is_err());
        assert!(parse_base("ftp://host").is_err());
        assert!(parse_base("http://host/?a=1").is_err());
    }

    #[test]
    fn an_error_body_is_a_problem_or_kept_as_text() {
        let body = br#"{"type":"urn:flowgate:problem:rate-limited","title":"Too many requests",
            "status":429,"detail":"slow down","code":"rate-limited","retry":1}"#;
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        let Error::Problem(problem) = error_of(StatusCode::TOO_MANY_REQUESTS, &headers, body)
        else {
            panic!("a problem");
        };
        assert_eq!(problem.code, "rate-limited");
        assert!(problem.errors.is_empty());
        assert_eq!(problem.extensions["retry"], 1);
        assert_eq!(problem.retry_after, Some(Duration::from_secs(2)));
        let Error::Unexpected { status, body } =
            error_of(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>")
        else {
            panic!("unexpected");
        };
        assert_eq!((status, body.as_str()), (502, "<html>"));
    }

    #[test]
    fn an_invalid_default_header_fails_the_build() {
        let built = Client::builder("http://localhost:8000")
            .default_header("bad header", "x")
            .build();
        assert!(matches!(built, Err(Error::InvalidHeader(_))));
    }
}
