//! Fuzzes `ddboot::fuzz::duration::parse` (`--timeout`, `DDBOOT_TIMEOUT`): it never panics, never accepts
//! more than `duration::MAX` (60 s), and an accepted value is at most, and within a microsecond
//! per unit of, a float reading of the same text (a number, then `ms`, `s` or `m`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(d) = ddboot::fuzz::duration::parse(text) else { return };
    assert!(d <= ddboot::fuzz::duration::MAX, "{text:?} gave {d:?}, over the maximum");
    let (number, per_unit) = ddboot::fuzz::duration::split_unit(text)
        .unwrap_or_else(|why| panic!("{text:?} accepted but its unit is not: {why}"));
    // The unit table is shared with the parser; the number is read here as a float.
    let millis = per_unit as f64;
    let value: f64 = number.parse().unwrap_or_else(|_| panic!("{text:?}: {number:?} is not a number"));
    let expected = value * millis / 1_000.0;
    // The parser keeps six fractional digits of the number (at most 1 µs per unit lost), then
    // rounds down to a whole microsecond.
    let slack = millis / 1_000.0 * 1e-6 + 1e-6;
    let got = d.as_secs_f64();
    assert!(
        got <= expected + 1e-9 && expected - got <= slack + expected * 1e-12,
        "{text:?}: parsed {got} s, expected about {expected} s"
    );
});
