//! Everything ddboot writes to its standard streams, and the one escaping function for values that
//! came from outside.
//!
//! Diagnostics go to stderr through [`diag`]: one line per call, escaped so that no value can forge
//! a line or smuggle a terminal escape, and a write that fails (`2>/dev/full`, a closed pipe, a
//! closed descriptor) is ignored: a diagnostic never changes what is exec'd or its exit status.
//! The reports ddboot is asked for (`--print-env`, `--explain`, `--help`) go to stdout through
//! [`stdout`]: a reader that went away (EPIPE) ends ddboot quietly with 0, any other write error is
//! [`Error::Output`] (exit 74), never a silent success.

use std::io::{ErrorKind, Write};

use crate::error::Error;

/// Writes one diagnostic line to stderr (escaped, newline added); errors are ignored.
pub(crate) fn diag(line: &str) {
    let mut text = escape(line);
    text.push('\n');
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

/// What became of a report written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Everything was written.
    All,
    /// The reader went away (EPIPE): the caller exits 0 without a word.
    ReaderGone,
}

/// Writes a report to stdout. EPIPE is [`Written::ReaderGone`]; any other failure is exit 74.
pub(crate) fn stdout(text: &str) -> Result<Written, Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(Written::All),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(Written::ReaderGone),
        Err(e) => Err(Error::Output(format!("cannot write to stdout: {e}"))),
    }
}

/// Makes a value from outside safe to print on one line: control characters (newline, carriage
/// return, ESC, DEL, the C1 range), Unicode line and paragraph separators and bidirectional
/// overrides become `\n`, `\r`, `\t` or `\u{…}`. Everything else is kept as is, backslashes
/// included, so escaping twice changes nothing: a value escaped where it is quoted passes through
/// [`diag`] unchanged.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// [`escape`] for bytes: invalid UTF-8 is shown as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// `text` cut to `max` characters, escaped, in double quotes: how a value from outside is quoted
/// in a message.
pub(crate) fn quote(text: &str, max: usize) -> String {
    format!("\"{}\"", escape(&clip(text, max)))
}

/// Cuts `text` to at most `max` characters, ending with `…` when something was cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_a_line_or_drive_a_terminal() {
        assert_eq!(escape("web\nddboot: DD_AGENT_HOST=6.6.6.6"), "web\\nddboot: DD_AGENT_HOST=6.6.6.6");
        assert_eq!(escape("\x1b[31mred\x1b[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(escape("a\rb\tc\\d"), "a\\rb\\tc\\d");
        assert_eq!(escape("\u{202e}txt.exe\u{7f}\u{85}"), "\\u{202e}txt.exe\\u{7f}\\u{85}");
        assert_eq!(escape("bridge é 10.0.0.1"), "bridge é 10.0.0.1");
        assert_eq!(escape_bytes(b"ok\xff\n"), "ok\\xff\\n");
    }

    #[test]
    fn clips_to_a_number_of_characters() {
        assert_eq!(clip("abcdef", 6), "abcdef");
        assert_eq!(clip("abcdefg", 6), "abcde…");
        assert_eq!(clip("ééééééé", 3).chars().count(), 3);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        // How a rejected body is quoted in a message: cut on a character, never inside one.
        assert_eq!(quote("héllo", 3), "\"hé…\"");
        assert_eq!(quote("hi", 5), "\"hi\"");
        assert_eq!(quote("a\nb", 40), "\"a\\nb\"");
    }

    /// What must be escaped, from Unicode's own data (the `unicode-bidi` tables and std's
    /// `is_control`), not from [`needs_escape`]: a control character (Cc), the line separator, a
    /// paragraph separator (bidi class B), a bidi embedding, override or isolate, or one of the
    /// three bidi marks (LRM, RLM, ALM: classes L, R and AL, so named here).
    fn unsafe_by_unicode(c: char) -> bool {
        use unicode_bidi::BidiClass::{B, FSI, LRE, LRI, LRO, PDF, PDI, RLE, RLI, RLO};
        c.is_control()
            || c == '\u{2028}'
            || ['\u{200e}', '\u{200f}', '\u{061c}'].contains(&c)
            || matches!(unicode_bidi::bidi_class(c), B | LRE | RLE | LRO | RLO | PDF | LRI | RLI | FSI | PDI)
    }

    #[test]
    fn escaped_text_is_one_printable_line() {
        for c in (0u32..0x3000).chain(0xfe00..0x10000).filter_map(char::from_u32) {
            let e = escape(&c.to_string());
            if unsafe_by_unicode(c) {
                assert!(e.starts_with('\\') && e.is_ascii(), "{c:?} must be escaped, got {e:?}");
            } else {
                assert_eq!(e, c.to_string(), "{c:?} needs no escaping");
            }
        }
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let e = escape(&all);
        assert!(!e.chars().any(unsafe_by_unicode), "{e}");
        assert_eq!(escape(&e), e, "escaping twice changes nothing");
    }
}
