//! Reading values: from the environment or a setting, where empty means unset, and in the
//! `key=value,…` list format of the standard variables.

use super::OtelConfigError;

/// A source of variables (the process environment, or a map in tests).
pub(super) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A variable's value; unset and empty are the same, as the specification says.
pub(super) fn var(env: Env<'_>, name: &str) -> Option<String> {
    key(env(name).as_deref())
}

/// A setting's value, empty meaning unset like for the variables.
pub(super) fn key(value: Option<&str>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The first of `(value, source)` candidates that is set.
pub(super) fn first<const N: usize>(
    candidates: [(Option<String>, &'static str); N],
) -> Option<(String, &'static str)> {
    candidates
        .into_iter()
        .find_map(|(value, source)| value.map(|v| (v, source)))
}

/// `key1=value1,key2=value2` with percent-encoded values, the format of
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES`.
pub(super) fn key_values(
    text: &str,
    source: &str,
) -> Result<Vec<(String, String)>, OtelConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, value) = entry
                .split_once('=')
                .filter(|(name, _)| !name.trim().is_empty())
                .ok_or_else(|| {
                    // Never echo the entry: it may be a header carrying a token.
                    OtelConfigError::new(source, "expected key=value pairs separated by commas")
                })?;
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .map_err(|_| OtelConfigError::new(source, "a value is not UTF-8 once decoded"))?;
            Ok((name.trim().to_owned(), value.into_owned()))
        })
        .collect()
}
