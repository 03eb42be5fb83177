//! How long a request waits for a workflow to end: `?wait=` (seconds or a duration), or else
//! the RFC 7240 preference `Prefer: wait=<seconds>`, answered with `Preference-Applied`. Both
//! are capped at `api.result_wait`. Without either, each route says what it does: `/v1` answers
//! at once, the guide's result and sync start wait as long as allowed.

use std::time::Duration;

use axum::{
    extract::{FromRequestParts, Query},
    http::{HeaderName, HeaderValue, header::HeaderMap, request::Parts},
};
use serde::Deserialize;

use crate::{error::ApiError, extract::parse_wait, state::AppState};

/// `Preference-Applied` (RFC 7240).
const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// The wait a request asked for, if it asked.
#[derive(Debug, Clone)]
pub(crate) struct WaitPreference {
    requested: Option<Duration>,
    longest: Duration,
    applied: Option<HeaderValue>,
}

impl WaitPreference {
    /// The wait asked for; zero (answer at once) when none was.
    pub(crate) fn or_none(&self) -> Duration {
        self.requested.unwrap_or(Duration::ZERO)
    }

    /// The wait asked for; the longest allowed (`api.result_wait`) when none was.
    pub(crate) fn or_longest(&self) -> Duration {
        self.requested.unwrap_or(self.longest)
    }

    /// The `Preference-Applied` header, if any, as a response header pair.
    pub(crate) fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        self.applied
            .iter()
            .map(|value| (PREFERENCE_APPLIED, value.clone()))
            .collect()
    }
}

#[derive(Debug, Deserialize)]
struct WaitParams {
    wait: Option<String>,
}

impl FromRequestParts<AppState> for WaitPreference {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let longest = state.settings.api.result_wait;
        let Query(params) =
            Query::<WaitParams>::try_from_uri(&parts.uri).map_err(|e| ApiError::InvalidQuery {
                name: "wait",
                problem: e.body_text(),
            })?;
        if let Some(raw) = params.wait {
            let wait = parse_wait(&raw).ok_or_else(|| ApiError::InvalidQuery {
                name: "wait",
                problem: format!("{raw:?} is not a duration such as 10, 2.5, 500ms or 1m"),
            })?;
            return Ok(Self {
                requested: Some(wait.min(longest)),
                longest,
                applied: None,
            });
        }
        Ok(match preferred_wait(&parts.headers) {
            Some(seconds) => {
                let wait = Duration::from_secs(seconds).min(longest);
                // RFC 7240 counts in whole seconds; a cap below one second applies as 0.
                let applied = HeaderValue::try_from(format!("wait={}", wait.as_secs())).ok();
                Self {
                    requested: Some(wait),
                    longest,
                    applied,
                }
            }
            None => Self {
                requested: None,
                longest,
                applied: None,
            },
        })
    }
}

/// The `wait` preference of the `Prefer` headers (`Prefer: respond-async, wait=10`). Malformed
/// preferences are ignored, as RFC 7240 asks.
fn preferred_wait(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|preference| {
            let token = preference.split(';').next()?.trim();
            let (name, value) = token.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("wait") {
                return None;
            }
            value.trim().trim_matches('"').parse::<u64>().ok()
        })
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(values: &[&str]) -> Option<u64> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("prefer", HeaderValue::from_str(value).unwrap());
        }
        preferred_wait(&headers)
    }

    #[test]
    fn the_wait_preference_is_found_among_others() {
        assert_eq!(prefer(&["wait=10"]), Some(10));
        assert_eq!(prefer(&["respond-async, wait=5"]), Some(5));
        assert_eq!(prefer(&["return=minimal", "Wait = \"7\""]), Some(7));
        assert_eq!(prefer(&["wait=soon"]), None);
        assert_eq!(prefer(&["respond-async"]), None);
        assert_eq!(prefer(&[]), None);
    }

    proptest::proptest! {
        #[test]
        fn any_prefer_header_is_read_without_panicking(values in proptest::collection::vec("[ -~]{0,40}", 0..4)) {
            let mut headers = HeaderMap::new();
            for value in &values {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.append("prefer", value);
                }
            }
            let _ = preferred_wait(&headers);
        }

        #[test]
        fn a_wait_preference_is_found_among_any_others(
            before in "(respond-async|return=minimal|handling=lenient)",
            seconds in 0u64..1_000_000_000,
        ) {
            let header = format!("{before}, wait={seconds}");
            proptest::prop_assert_eq!(prefer(&[&header]), Some(seconds));
        }
    }
}
