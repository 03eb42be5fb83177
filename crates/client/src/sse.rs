//! A Server-Sent Events parser, as the HTML standard's "event stream interpretation" reads a
//! stream: lines end with CRLF, LF or CR (also when a chunk ends between CR and LF), `:` starts a
//! comment (heartbeats), `data:` lines join with `\n`, a blank line dispatches, an unfinished
//! message at the end of the stream is dropped.
//!
//! Bytes are split into lines before they are decoded, so a UTF-8 character cut by a chunk
//! boundary is decoded whole.

use std::time::Duration;

/// One dispatched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The last event id the stream set (an `id:` line of this message or an earlier one).
    pub(crate) id: Option<String>,
    /// The `event:` name (`message` when none was given).
    pub(crate) event: String,
    /// The `data:` lines, joined with `\n`.
    pub(crate) data: String,
}

/// Reads messages out of the chunks of one stream.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    /// The bytes of the line being read.
    line: Vec<u8>,
    /// The previous chunk ended with CR: an LF starting this one belongs to that line end.
    after_cr: bool,
    /// Whether the first line (which may start with a byte order mark) was read.
    first_line_read: bool,
    event: String,
    data: String,
    /// Whether a `data` field was seen in the current message (it may be empty).
    has_data: bool,
    last_id: Option<String>,
    retry: Option<Duration>,
}

impl Parser {
    /// Reads `chunk`, appending the messages it completes to `out`.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Message>) {
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = chunk.iter().position(|b| matches!(b, b'\r' | b'\n')) {
            self.line.extend_from_slice(&chunk[..end]);
            let line = std::mem::take(&mut self.line);
            self.line(&line, out);
            let crlf = chunk[end] == b'\r' && chunk.get(end + 1) == Some(&b'\n');
            if chunk[end] == b'\r' && end + 1 == chunk.len() {
                self.after_cr = true;
            }
            chunk = &chunk[end + if crlf { 2 } else { 1 }..];
        }
        self.line.extend_from_slice(chunk);
    }

    /// The reconnection time the stream last asked for (`retry:`), if any.
    pub(crate) fn retry(&self) -> Option<Duration> {
        self.retry
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Message>) {
        let line = String::from_utf8_lossy(line);
        // A byte order mark may start the stream (checked once its first line is whole, as a
        // chunk boundary may cut the mark itself).
        let line = match std::mem::replace(&mut self.first_line_read, true) {
            false => line.strip_prefix('\u{feff}').unwrap_or(&line),
            true => &line,
        };
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok().map(Duration::from_millis);
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Message>) {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        out.push(Message {
            id: self.last_id.clone().filter(|id| !id.is_empty()),
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> (Vec<Message>, Parser) {
        let mut parser = Parser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out);
        }
        (out, parser)
    }

    fn message(id: &str, event: &str, data: &str) -> Message {
        Message {
            id: Some(id.to_owned()).filter(|id| !id.is_empty()),
            event: event.to_owned(),
            data: data.to_owned(),
        }
    }

    const STREAM: &str = "id: 1\nevent: workflow_started\ndata: {\"event_id\":1}\nretry: 1000\n\n\
        :heartbeat\n\n\
        id: 6\nevent: activity_scheduled\ndata: {\"event_id\":6,\ndata:  \"input\":\"Äpfel ✓\"}\n\n";

    #[test]
    fn messages_carry_their_id_event_and_data_lines_joined() {
        let (messages, parser) = parse(&[STREAM.as_bytes()]);

        assert_eq!(
            messages,
            [
                message("1", "workflow_started", "{\"event_id\":1}"),
                message(
                    "6",
                    "activity_scheduled",
                    "{\"event_id\":6,\n \"input\":\"Äpfel ✓\"}"
                ),
            ]
        );
        assert_eq!(parser.retry(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn every_chunk_boundary_gives_the_same_messages() {
        let bytes = STREAM.as_bytes();
        let (whole, _) = parse(&[bytes]);
        for cut in 0..=bytes.len() {
            let (split, _) = parse(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(split, whole, "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse(&bytewise).0, whole);
    }

    #[test]
    fn crlf_and_cr_end_lines_too_even_across_chunks() {
        let lf = STREAM.as_bytes();
        let crlf = STREAM.replace('\n', "\r\n");
        let cr = STREAM.replace('\n', "\r");
        let (expected, _) = parse(&[lf]);
        for stream in [crlf.as_bytes(), cr.as_bytes()] {
            for cut in 0..=stream.len() {
                let (split, _) = parse(&[&stream[..cut], &stream[cut..]]);
                assert_eq!(split, expected, "cut at {cut} of {stream:?}");
            }
        }
    }

    #[test]
    fn comments_and_messages_without_data_dispatch_nothing() {
        let (messages, _) = parse(&[b": heartbeat\n\n:\n\nevent: x\n\nid: 3\n\n"]);
        assert!(messages.is_empty(), "{messages:?}");
        // The id set by a message without data still counts for the next one.
        let (messages, _) = parse(&[b"id: 3\n\ndata\n\n"]);
        assert_eq!(messages, [message("3", "message", "")]);
    }

    #[test]
    fn an_unfinished_message_is_not_dispatched() {
        let (messages, _) = parse(&[b"id: 1\nevent: a\ndata: 1\n\nid: 2\nevent: b\ndata: 2\n"]);
        assert_eq!(messages, [message("1", "a", "1")]);
    }

    #[test]
    fn field_values_lose_one_leading_space_and_odd_fields_are_ignored() {
        let (messages, parser) =
            parse(&["\u{feff}data:no space\ndata:  two\nretry: soon\nfoo: bar\nid\n\n".as_bytes()]);
        assert_eq!(messages, [message("", "message", "no space\n two")]);
        assert_eq!(parser.retry(), None);
    }
}
