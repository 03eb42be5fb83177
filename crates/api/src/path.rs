//! Workflow ids, names and update ids as path segments: percent-encoded exactly where RFC 3986
//! does not allow them literally, in `Location` headers and in the paths errors point to.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters that cannot stand literally in one path segment (RFC 3986 `pchar`).
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `text` as one path segment.
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, PATH_SEGMENT).to_string()
}
