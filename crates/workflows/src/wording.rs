//! Deserialisation errors in the client's terms. Serde speaks of Rust types (`expected struct
//! ShoppingItem`, `expected i64`, `unknown variant`); a client sent JSON and needs to hear what
//! the field must be, what it got, and which field is meant. Every route words its body errors
//! through [`client_terms`], so the same rule reads the same everywhere.

/// A body error, reworded: what is wrong, and the field it is about when that field is not yet
/// in the error's pointer (a missing or unknown field is reported at the field itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worded {
    /// The field to append to the pointer, if any.
    pub field: Option<String>,
    /// What is wrong, in JSON terms.
    pub detail: String,
}

/// `message` (a serde error, without its position) in the client's terms; a message it does
/// not recognise (a type's own rule) is kept as it is.
pub fn client_terms(message: &str) -> Worded {
    let plain = |detail: String| Worded {
        field: None,
        detail,
    };
    if let Some(field) = between(message, "missing field `", "`") {
        return Worded {
            field: Some(field.to_owned()),
            detail: "is required".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        return Worded {
            field: Some(field.to_owned()),
            detail: format!("is not a known field{}", known_names(expected, "known")),
        };
    }
    if let Some(field) = between(message, "duplicate field `", "`") {
        return Worded {
            field: Some(field.to_owned()),
            detail: "appears twice".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((value, expected)) = rest.split_once('`')
    {
        let names = names(expected);
        return plain(if names.is_empty() {
            format!("got {value:?}, which is not allowed")
        } else {
            format!("must be one of {}, got {value:?}", names.join(", "))
        });
    }
    for (prefix, is_value) in [("invalid type: ", false), ("invalid value: ", true)] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((got, expected)) = rest.rsplit_once(", expected ")
        {
            return plain(format!(
                "must be {}, got {}",
                expected_words(expected, is_value),
                got_words(got)
            ));
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return plain(format!("must have {expected}, got {got}"));
    }
    plain(message.to_owned())
}

fn between<'a>(text: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)?.strip_suffix(suffix)
}

/// The back-quoted names of serde's `, expected one of `a`, `b`` (or `expected `a` or `b``).
fn names(expected: &str) -> Vec<&str> {
    expected.split('`').skip(1).step_by(2).collect()
}

fn known_names(expected: &str, word: &str) -> String {
    let names = names(expected);
    if names.is_empty() {
        String::new()
    } else {
        format!(" ({word}: {})", names.join(", "))
    }
}

/// What serde expected, as a JSON value.
fn expected_words(expected: &str, out_of_range: bool) -> String {
    let range = |min: i128, max: i128| {
        if out_of_range {
            format!("a whole number from {min} to {max}")
        } else {
            "a whole number".to_owned()
        }
    };
    match expected {
        "u8" => range(0, u8::MAX.into()),
        "u16" => range(0, u16::MAX.into()),
        "u32" => range(0, u32::MAX.into()),
        "u64" | "usize" => range(0, u64::MAX.into()),
        "i8" => range(i8::MIN.into(), i8::MAX.into()),
        "i16" => range(i16::MIN.into(), i16::MAX.into()),
        "i32" => range(i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => range(i64::MIN.into(), i64::MAX.into()),
        "f32" | "f64" => "a number".to_owned(),
        "a string" | "a borrowed string" | "string" | "a character" | "char" => {
            "a string".to_owned()
        }
        "a boolean" | "bool" => "true or false".to_owned(),
        "a sequence" | "sequence" | "a tuple" => "a list".to_owned(),
        "any valid JSON value" => "a JSON value".to_owned(),
        other if other.starts_with("struct ") || other.contains("map") => "an object".to_owned(),
        other if other.starts_with("enum ") => "one of the listed values".to_owned(),
        other if other.starts_with("tuple") => "a list".to_owned(),
        other => other.to_owned(),
    }
}

/// What the client sent, as a JSON value.
fn got_words(got: &str) -> String {
    let quoted = |prefix: &str| {
        got.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.strip_suffix('`'))
    };
    if let Some(text) = got.strip_prefix("string ") {
        return format!("the string {text}");
    }
    for prefix in ["integer ", "floating point ", "boolean "] {
        if let Some(value) = quoted(prefix) {
            return value.to_owned();
        }
    }
    match got {
        "map" => "an object".to_owned(),
        "sequence" => "a list".to_owned(),
        "null" | "unit value" => "null".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(message: &str) -> String {
        client_terms(message).detail
    }

    #[test]
    fn rust_types_become_json_words() {
        assert_eq!(
            detail(r#"invalid type: string "five", expected u32"#),
            r#"must be a whole number, got the string "five""#
        );
        assert_eq!(
            detail("invalid type: floating point `1.5`, expected i64"),
            "must be a whole number, got 1.5"
        );
        assert_eq!(
            detail("invalid type: string \"APPLE\", expected a sequence"),
            "must be a list, got the string \"APPLE\""
        );
        assert_eq!(
            detail("invalid type: sequence, expected struct ShoppingItem"),
            "must be an object, got a list"
        );
        assert_eq!(
            detail("invalid value: integer `5000000000`, expected u32"),
            "must be a whole number from 0 to 4294967295, got 5000000000"
        );
        assert_eq!(
            detail("invalid type: null, expected a string"),
            "must be a string, got null"
        );
    }

    #[test]
    fn variants_and_fields_are_named() {
        assert_eq!(
            detail("unknown variant `GRAPE`, expected one of `APPLE`, `BANANA`"),
            "must be one of APPLE, BANANA, got \"GRAPE\""
        );
        assert_eq!(
            client_terms("missing field `amount`"),
            Worded {
                field: Some("amount".to_owned()),
                detail: "is required".to_owned()
            }
        );
        assert_eq!(
            client_terms("unknown field `colour`, expected `fruit` or `amount`"),
            Worded {
                field: Some("colour".to_owned()),
                detail: "is not a known field (known: fruit, amount)".to_owned()
            }
        );
    }

    #[test]
    fn a_types_own_rule_is_kept() {
        assert_eq!(
            detail("must be at least 1, got -5"),
            "must be at least 1, got -5"
        );
    }

    #[test]
    fn no_answer_names_a_rust_type() {
        for message in [
            "invalid type: map, expected i64",
            "invalid type: boolean `true`, expected f64",
            "invalid type: integer `3`, expected struct ItemIn",
            "invalid value: integer `-1`, expected usize",
            "invalid type: string \"x\", expected enum Fruit",
        ] {
            let worded = detail(message);
            for word in ["struct", "i64", "f64", "usize", "enum", "ItemIn"] {
                assert!(!worded.contains(word), "{message} → {worded}");
            }
        }
    }
}
