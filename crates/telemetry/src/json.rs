//! `log.format=json`: one JSON object per line, the same object `tracing-subscriber`'s own JSON
//! format writes (flattened event, the current span under `span`), written without its costs.
//!
//! `tracing-subscriber` keeps a span's fields as a JSON object in a string; each `record` on the
//! span parses that string back into a map and serialises it again, and every line parses it
//! once more to copy it under `span`. A request span that records a start's four fields paid
//! that five times per request. Here a span's fields are kept as the members of an object
//! without its braces — recording appends to them, a line copies them as they are — and values
//! are escaped straight into the line, with no intermediate map or value.

use std::fmt::{self, Write as _};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::{
    field::RecordFields,
    fmt::{
        FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::Writer,
        time::{FormatTime as _, SystemTime},
    },
    registry::LookupSpan,
};

/// The event formatter: `{"timestamp":…,"level":…,<event fields>,"target":…,"span":{…}}`.
#[derive(Debug, Default)]
pub(crate) struct JsonLines;

/// The field formatter: a span's fields as the members of a JSON object, without braces.
#[derive(Debug, Default)]
pub(crate) struct JsonMembers;

impl<S> FormatEvent<S, JsonMembers> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonMembers>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", meta.level())?;
        let mut fields = Members::after(&mut writer, true);
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        string(&mut writer, meta.target())?;
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            writer.write_str(",\"span\":{")?;
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<JsonMembers>>()
                && !fields.is_empty()
            {
                writer.write_str(fields)?;
                writer.write_char(',')?;
            }
            writer.write_str("\"name\":")?;
            string(&mut writer, span.name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

impl<'w> FormatFields<'w> for JsonMembers {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut members = Members::after(&mut writer, false);
        fields.record(&mut members);
        members.result
    }

    /// Appends the fields recorded on a span to its members. A field recorded a second time
    /// replaces its first value, as in an object each key appears once.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut again = false;
        fields.record(&mut |field: &Field, _: &dyn fmt::Debug| {
            again |= has_member(&current.fields, key(field));
        });
        if again {
            return replace_members(&mut current.fields, fields);
        }
        let comma = !current.is_empty();
        let mut members = Members::after(&mut current.fields, comma);
        fields.record(&mut members);
        members.result
    }
}

/// Rebuilds `members` with `fields` recorded over them: the rare path of a span field recorded
/// twice.
fn replace_members(members: &mut String, fields: &tracing::span::Record<'_>) -> fmt::Result {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&format!("{{{members}}}")).map_err(|_| fmt::Error)?;
    let mut added = String::new();
    let mut visitor = Members::after(&mut added, false);
    fields.record(&mut visitor);
    visitor.result?;
    let added: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&format!("{{{added}}}")).map_err(|_| fmt::Error)?;
    object.extend(added);
    let whole = serde_json::to_string(&object).map_err(|_| fmt::Error)?;
    members.clear();
    members.push_str(&whole[1..whole.len() - 1]);
    Ok(())
}

/// Whether `members` has a member named `name`. Inside a string value every `"` is escaped, so
/// `"name":` at the start or after a `,` can only be a key.
fn has_member(members: &str, name: &str) -> bool {
    members.match_indices(name).any(|(at, _)| {
        let before = &members.as_bytes()[..at];
        matches!(before, [b'"'] | [.., b',', b'"']) && members[at + name.len()..].starts_with("\":")
    })
}

/// A field's key: its name without a raw identifier's `r#`.
fn key(field: &Field) -> &'static str {
    let name = field.name();
    name.strip_prefix("r#").unwrap_or(name)
}

/// Writes each field visited as a `"key":value` member, comma-separated.
struct Members<W> {
    out: W,
    comma: bool,
    result: fmt::Result,
}

impl<W: fmt::Write> Members<W> {
    /// Members written to `out`; `comma` when it already holds members (or an object's start
    /// and members) the first one follows.
    fn after(out: W, comma: bool) -> Self {
        Self {
            out,
            comma,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        let name = key(field);
        // `log.*` fields carry a `log` record's metadata, already written as its target.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        self.result = (|| {
            if self.comma {
                self.out.write_char(',')?;
            }
            self.comma = true;
            string(&mut self.out, name)?;
            self.out.write_char(':')?;
            value(&mut self.out)
        })();
    }
}

impl<W: fmt::Write> Visit for Members<W> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity: they are null, as serde_json writes them.
        self.member(field, |out| {
            if value.is_finite() {
                write!(out, "{value:?}")
            } else {
                out.write_str("null")
            }
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| string(out, value));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.member(field, |out| {
            out.write_char('[')?;
            for (i, byte) in value.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write!(out, "{byte}")?;
            }
            out.write_char(']')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_char('"')?;
            write!(Escaped(&mut *out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

/// Writes `value` as a JSON string.
fn string(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(&mut *out).write_str(value)?;
    out.write_char('"')
}

/// Escapes what is written through it for the inside of a JSON string, as serde_json does:
/// quotes, backslashes and control characters; everything else as it is.
struct Escaped<W>(W);

impl<W: fmt::Write> fmt::Write for Escaped<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let needs_escape = |byte: u8| byte < 0x20 || byte == b'"' || byte == b'\\';
        // Most values need no escaping: find the first 32-byte run that does, a test the
        // compiler vectorises, before going byte by byte.
        let Some(run) = s
            .as_bytes()
            .chunks(32)
            .position(|run| run.iter().fold(false, |any, &b| any | needs_escape(b)))
        else {
            return self.0.write_str(s);
        };
        let mut plain = 0;
        for (i, byte) in s.bytes().enumerate().skip(run * 32) {
            if !needs_escape(byte) {
                continue;
            }
            self.0.write_str(&s[plain..i])?;
            match byte {
                b'"' => self.0.write_str("\\\"")?,
                b'\\' => self.0.write_str("\\\\")?,
                b'\n' => self.0.write_str("\\n")?,
                b'\r' => self.0.write_str("\\r")?,
                b'\t' => self.0.write_str("\\t")?,
                0x08 => self.0.write_str("\\b")?,
                0x0c => self.0.write_str("\\f")?,
                _ => write!(self.0, "\\u{byte:04x}")?,
            }
            plain = i + 1;
        }
        self.0.write_str(&s[plain..])
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use serde_json::Value;
    use tracing::subscriber::with_default;
    use tracing_subscriber::{fmt, layer::SubscriberExt as _, registry};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    /// What a program logs: spans with every kind of value, fields recorded later (once and
    /// twice), nested spans, events outside any span, and strings that need escaping.
    fn program() {
        tracing::info!(answer = 42, "outside any span");
        let span = tracing::info_span!(
            "request",
            method = %"POST",
            route = "/v1/workflow-types/{name}/start",
            request_id = "a\"b\\c\nd\u{1}é",
            otel.kind = "server",
            negative = -7_i64,
            ratio = 0.25_f64,
            not_a_number = f64::NAN,
            flag = true,
            bytes = &b"ab"[..],
            r#type = "raw",
            long = "a value longer than one run of 32 bytes, with \"quotes\" and a tab\t late",
            workflow = tracing::field::Empty,
            run_id = tracing::field::Empty,
            replayed = tracing::field::Empty,
        );
        span.record("workflow", "shopping");
        span.record("run_id", "run-1");
        span.record("replayed", false);
        span.in_scope(|| {
            tracing::info!(latency = ?std::time::Duration::from_millis(3), status = 202_u16, "finished processing request");
            span.record("workflow", "second \"value\"");
            tracing::warn!(error = %io::Error::other("boom, \"quoted\""), "recorded twice");
            let inner = tracing::debug_span!("inner", step = 2);
            inner.in_scope(|| tracing::info!("inside the inner span"));
            tracing::info!(parent: &inner, "explicit parent");
        });
        let empty = tracing::info_span!("empty");
        empty.in_scope(|| tracing::info!(message = "a message field", extra = 1));
    }

    fn run(json_lines: bool) -> Vec<Value> {
        let out = Captured::default();
        let writer = {
            let out = out.clone();
            move || out.clone()
        };
        if json_lines {
            let layer = fmt::layer()
                .fmt_fields(JsonMembers)
                .event_format(JsonLines)
                .with_writer(writer);
            with_default(registry().with(layer), program);
        } else {
            let layer = fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(writer);
            with_default(registry().with(layer), program);
        }
        out.lines()
            .iter()
            .map(|line| {
                let mut value: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                let timestamp = value
                    .as_object_mut()
                    .unwrap()
                    .remove("timestamp")
                    .expect("a timestamp");
                assert!(
                    timestamp
                        .as_str()
                        .is_some_and(|t| t.ends_with('Z') && t.contains('T')),
                    "{line}"
                );
                value
            })
            .collect()
    }

    #[test]
    fn each_line_is_the_object_tracing_subscribers_json_format_writes() {
        let ours = run(true);
        let theirs = run(false);
        assert_eq!(ours.len(), 6, "{ours:#?}");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_span_field_recorded_twice_appears_once_with_its_last_value() {
        let lines = run(true);
        let recorded_twice = &lines[2];
        assert_eq!(recorded_twice["message"], "recorded twice");
        assert_eq!(recorded_twice["span"]["workflow"], "second \"value\"");
        assert_eq!(recorded_twice["span"]["request_id"], "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn a_key_is_found_only_where_a_member_starts() {
        let members = r#""a":"x,\"b\":1","b2":2,"c":true"#;
        assert!(has_member(members, "a"));
        assert!(has_member(members, "b2"));
        assert!(has_member(members, "c"));
        assert!(!has_member(members, "b"));
        assert!(!has_member(members, "x"));
        assert!(!has_member("", "a"));
        assert!(!has_member(r#""ab":1"#, "b"));
        assert!(!has_member(r#""a":"b\\","#, "b"));
    }
}
