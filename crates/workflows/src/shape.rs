//! Every shape error of a JSON value at once, from its type's JSON Schema (feature `openapi`).
//!
//! Serde stops at the first value of the wrong type; a client fixing its request one field per
//! round trip deserves better. When a payload does not deserialise, its schema is walked to find
//! every value of the wrong type, every unknown enum value and every missing field, each at its
//! JSON pointer and in the words of [`crate::wording`]. Ranges and lengths are the type's
//! [`crate::registry::Validate`] rules, not checked here.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::registry::{InputIssue, escape};

/// Most issues reported: an answer stays small whatever the request.
const MAX_ISSUES: usize = 20;

/// The shape errors of `value` against `schema`, whose `$ref`s name schemas of `defs`.
pub(crate) fn issues(
    value: &Value,
    schema: &Value,
    defs: &BTreeMap<String, Value>,
) -> Vec<InputIssue> {
    let mut found = Vec::new();
    walk(value, schema, defs, &mut String::new(), &mut found, 0);
    found.truncate(MAX_ISSUES);
    found
}

fn walk(
    value: &Value,
    schema: &Value,
    defs: &BTreeMap<String, Value>,
    at: &mut String,
    found: &mut Vec<InputIssue>,
    depth: usize,
) {
    // Schemas here are trees of named types; the bound only guards against a recursive one.
    if depth > 64 || found.len() >= MAX_ISSUES {
        return;
    }
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        if let Some(target) = defs.get(name) {
            walk(value, target, defs, at, found, depth + 1);
        }
        return;
    }
    if let Some(branches) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        // The branch the value fits; else the errors of the branch closest to it (not null).
        let mut best: Option<Vec<InputIssue>> = None;
        for branch in branches {
            let mut here = Vec::new();
            walk(value, branch, defs, at, &mut here, depth + 1);
            if here.is_empty() {
                return;
            }
            if branch["type"] != "null" && best.is_none() {
                best = Some(here);
            }
        }
        found.extend(best.unwrap_or_default());
        return;
    }
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            walk(value, part, defs, at, found, depth + 1);
        }
        return;
    }
    if let Some(expected) = schema.get("type")
        && !fits(value, expected)
    {
        found.push(InputIssue::new(
            at.clone(),
            format!("must be {}, got {}", words(expected), got(value)),
        ));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        found.push(InputIssue::new(
            at.clone(),
            format!(
                "must be one of {}, got {}",
                names.join(", "),
                compact(value)
            ),
        ));
        return;
    }
    match value {
        Value::Object(object) => {
            for field in schema["required"].as_array().into_iter().flatten() {
                if let Some(field) = field.as_str()
                    && object.get(field).is_none_or(Value::is_null)
                {
                    found.push(InputIssue::new(
                        format!("{at}/{}", escape(field)),
                        "is required",
                    ));
                }
            }
            let Some(properties) = schema["properties"].as_object() else {
                return;
            };
            for (name, inner) in object {
                if let Some(property) = properties.get(name) {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&escape(name));
                    walk(inner, property, defs, at, found, depth + 1);
                    at.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (i, inner) in items.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    walk(inner, item, defs, at, found, depth + 1);
                    at.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// Whether `value` has one of the JSON Schema types `expected` (a name or a list of names).
fn fits(value: &Value, expected: &Value) -> bool {
    let one = |name: &str| match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    match expected {
        Value::String(name) => one(name),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

/// A JSON Schema type, in the client's words.
fn words(expected: &Value) -> String {
    let one = |name: &str| match name {
        "integer" => "a whole number",
        "number" => "a number",
        "string" => "a string",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "an object",
        "null" => "null",
        _ => "a JSON value",
    };
    match expected {
        Value::String(name) => one(name).to_owned(),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| *name != "null")
            .map(one)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "a JSON value".to_owned(),
    }
}

/// What was sent, in the words [`crate::wording`] uses.
fn got(value: &Value) -> String {
    match value {
        Value::String(_) => format!("the string {}", compact(value)),
        Value::Object(_) => "an object".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        other => other.to_string(),
    }
}

/// A short rendering of a value sent: at most 40 characters of it.
fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn defs() -> BTreeMap<String, Value> {
        BTreeMap::from([
            (
                "Item".to_owned(),
                json!({"type": "object", "required": ["fruit", "amount"], "properties": {
                    "fruit": {"$ref": "#/components/schemas/Fruit"},
                    "amount": {"type": "integer", "minimum": 1},
                }}),
            ),
            (
                "Fruit".to_owned(),
                json!({"type": "string", "enum": ["APPLE", "BANANA"]}),
            ),
        ])
    }

    fn list() -> Value {
        json!({"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "note": {"oneOf": [{"type": "null"}, {"type": "string"}]},
        }})
    }

    #[test]
    fn every_wrong_value_is_reported_at_once() {
        let value = json!({"items": [
            {"fruit": "GRAPE", "amount": 1},
            {"fruit": "APPLE", "amount": "five"},
            {"fruit": "BANANA"},
        ], "note": 3});
        let found: Vec<_> = issues(&value, &list(), &defs())
            .into_iter()
            .map(|i| (i.pointer, i.detail))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "/items/0/fruit".to_owned(),
                    "must be one of APPLE, BANANA, got \"GRAPE\"".to_owned()
                ),
                (
                    "/items/1/amount".to_owned(),
                    "must be a whole number, got the string \"five\"".to_owned()
                ),
                ("/items/2/amount".to_owned(), "is required".to_owned()),
                ("/note".to_owned(), "must be a string, got 3".to_owned()),
            ]
        );
    }

    #[test]
    fn a_value_of_the_right_shape_has_no_issues() {
        let value = json!({"items": [{"fruit": "APPLE", "amount": 2}], "note": null});
        assert!(issues(&value, &list(), &defs()).is_empty());
    }
}
