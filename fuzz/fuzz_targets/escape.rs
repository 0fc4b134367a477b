//! Fuzzes the one escaping function for values from outside, `ddboot::fuzz::output::escape` (and
//! `escape_bytes`): it never panics; what it returns holds no control character, no line or
//! paragraph separator and no bidirectional override, so a value can never forge a line of
//! ddboot's output or drive a terminal; escaping twice changes nothing; and text without anything
//! to escape comes back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
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
