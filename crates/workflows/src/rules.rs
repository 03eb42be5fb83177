//! Checks that more than one workflow's inputs share: required texts and bounded timeouts. A
//! new workflow's rules use these, so the same rule is worded the same on every route.

use std::time::Duration;

use crate::registry::InputIssue;

const MIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The issue of a required text at `pointer`: blank, or longer than `max` characters.
pub(crate) fn text_issue(pointer: &str, text: &str, max: usize) -> Option<InputIssue> {
    if text.trim().is_empty() {
        Some(InputIssue::new(pointer, "must not be blank"))
    } else if text.chars().count() > max {
        Some(InputIssue::new(
            pointer,
            format!("must be at most {max} characters"),
        ))
    } else {
        None
    }
}

/// A timeout as a duration: a humantime duration (`30s`, `1h 30m`, `7d`) from 1 second to 30
/// days (`approval_timeout`, and the cart's `checkout_after`).
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = crate::duration::parse(text).ok_or_else(|| {
        "must be a number of seconds (30) or a duration such as \"30s\", \"15m\", \"1h\" or \"7d\""
            .to_owned()
    })?;
    if timeout < MIN_TIMEOUT {
        Err("must be at least 1 second".to_owned())
    } else if timeout > MAX_TIMEOUT {
        Err("must be at most 30 days".to_owned())
    } else {
        Ok(timeout)
    }
}
