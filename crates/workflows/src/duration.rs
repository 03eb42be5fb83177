//! Durations as clients write them, in every field that takes one: a number of seconds (`30`,
//! `2.5`) or a duration (`"30s"`, `"1m30s"`, `"7d"`).

use std::time::Duration;

use serde::Deserialize as _;
use serde_json::Value;

/// A number of seconds, or a duration such as `1m30s` (the OpenAPI schema of such a field).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
pub enum SecondsOrDuration {
    /// Seconds.
    Seconds(f64),
    /// A duration: `500ms`, `30s`, `1m30s`, `2h`, `7d`.
    Duration(String),
}

/// `text` as a duration: a non-negative number of seconds, or a humantime duration.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::try_from_secs_f64(seconds).ok()
        }
        Ok(_) => None,
        Err(_) => humantime::parse_duration(text).ok(),
    }
}

/// Deserialises an optional duration field: a JSON number of seconds or a string, kept as text
/// for [`parse`] (so the field's own rules report a bad one at its pointer).
pub fn seconds_or_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Number(seconds)) => Ok(Some(seconds.to_string())),
        Some(_) => Err(serde::de::Error::custom(
            "must be a number of seconds (30) or a duration such as \"1m30s\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_durations_are_read_alike() {
        assert_eq!(parse("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("-1"), None);
        assert_eq!(parse("1e300"), None);
        assert_eq!(parse("later"), None);
    }
}
