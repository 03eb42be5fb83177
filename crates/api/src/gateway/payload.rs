//! Workflow arguments and results as standard `json/plain` payloads, which every Temporal SDK
//! reads and writes.

use serde::Serialize;
use temporalio_common::{data_converters::RawValue, protos::temporal::api::common::v1::Payload};

const ENCODING_KEY: &str = "encoding";
const JSON_ENCODING: &[u8] = b"json/plain";
const NULL_ENCODING: &[u8] = b"binary/null";

/// A value as a standard `json/plain` payload, readable by every Temporal SDK.
pub(super) fn json_payload(value: &impl Serialize) -> Result<Payload, serde_json::Error> {
    Ok(Payload {
        metadata: [(ENCODING_KEY.to_owned(), JSON_ENCODING.to_vec())].into(),
        data: serde_json::to_vec(value)?,
        ..Default::default()
    })
}

pub(super) fn decode_result(raw: RawValue) -> anyhow::Result<serde_json::Value> {
    let Some(payload) = raw.payloads.into_iter().next() else {
        return Ok(serde_json::Value::Null);
    };
    match payload.metadata.get(ENCODING_KEY).map(Vec::as_slice) {
        Some(JSON_ENCODING) => Ok(serde_json::from_slice(&payload.data)?),
        Some(NULL_ENCODING) | None if payload.data.is_empty() => Ok(serde_json::Value::Null),
        other => anyhow::bail!(
            "workflow result has encoding {:?}, which the API cannot render as JSON",
            other.map(String::from_utf8_lossy)
        ),
    }
}

/// One memo or search-attribute payload as JSON: its value when it is JSON, `null` when empty,
/// otherwise a string naming the encoding the API cannot show (binary, encrypted, ...).
pub(super) fn decode_payload(payload: &Payload) -> serde_json::Value {
    match payload.metadata.get(ENCODING_KEY).map(Vec::as_slice) {
        Some(JSON_ENCODING) => serde_json::from_slice(&payload.data).unwrap_or_else(|_| {
            serde_json::Value::String("<malformed json/plain payload>".to_owned())
        }),
        Some(NULL_ENCODING) => serde_json::Value::Null,
        None if payload.data.is_empty() => serde_json::Value::Null,
        other => serde_json::Value::String(format!(
            "<{} payload>",
            other.map_or("unknown".into(), String::from_utf8_lossy)
        )),
    }
}

/// Arguments as payloads: none, or the one JSON value.
pub(super) fn arguments(argument: Option<&serde_json::Value>) -> anyhow::Result<RawValue> {
    Ok(RawValue::new(match argument {
        Some(value) => vec![json_payload(value)?],
        None => Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_payloads_round_trip() {
        let payload = json_payload(&serde_json::json!({"items": []})).unwrap();
        let value = decode_result(RawValue::new(vec![payload])).unwrap();
        assert_eq!(value, serde_json::json!({"items": []}));
    }

    #[test]
    fn foreign_encodings_are_reported_not_garbled() {
        let payload = Payload {
            metadata: [(ENCODING_KEY.to_owned(), b"binary/protobuf".to_vec())].into(),
            data: vec![1, 2, 3],
            ..Default::default()
        };
        assert!(decode_result(RawValue::new(vec![payload])).is_err());
    }
}
