//! Fuzzes the one escaping function for values from outside, `ddboot::fuzz::output::escape` (and
//! `escape_bytes`): it never panics; what it returns holds no control character, no line or
//! paragraph separator and no bidirectional override, so a value can never forge a line of
//! ddboot's output or drive a terminal; escaping twice changes nothing; and text without anything
//! to escape comes back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// What must be escaped, from Unicode's own data (the `unicode-bidi` tables and std's
/// `is_control`), not from ddboot's list: a control character (Cc), the line separator, a
/// paragraph separator (bidi class B), a bidi embedding, override or isolate, or one of the three
/// bidi marks (LRM, RLM, ALM: classes L, R and AL, so named here).
fn unsafe_char(c: char) -> bool {
    use unicode_bidi::BidiClass::{B, FSI, LRE, LRI, LRO, PDF, PDI, RLE, RLI, RLO};
    c.is_control()
        || c == '\u{2028}'
        || ['\u{200e}', '\u{200f}', '\u{061c}'].contains(&c)
        || matches!(unicode_bidi::bidi_class(c), B | LRE | RLE | LRO | RLO | PDF | LRI | RLI | FSI | PDI)
}

fuzz_target!(|data: &[u8]| {
    let escaped = ddboot::fuzz::output::escape_bytes(data);
    assert!(!escaped.chars().any(unsafe_char), "{escaped:?}");
    assert_eq!(ddboot::fuzz::output::escape(&escaped), escaped, "escaping twice changed it");
    if let Ok(text) = std::str::from_utf8(data) {
        let once = ddboot::fuzz::output::escape(text);
        assert_eq!(once, escaped);
        if !text.chars().any(unsafe_char) {
            assert_eq!(once, text);
        }
    }
});
