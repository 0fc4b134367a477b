//! Parsing of human durations such as `500ms`, `2s` or `1.5s` for `--timeout` / `DDBOOT_TIMEOUT`.

use std::time::Duration;

/// The longest deadline ddboot accepts: an entrypoint must never hold an app back for long.
pub const MAX: Duration = Duration::from_secs(60);

/// Parses `<number>[unit]` where unit is `ms`, `s` (the default) or `m`, e.g. `500ms`, `2s`, `1.5s`.
/// The value must be between 0 and [`MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let (number, millis_per_unit) = split_unit(text)?;
    let valid = !number.is_empty()
        && number.bytes().filter(|&b| b == b'.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit());
    if !valid {
        return Err(format!("{text:?} is not a duration (examples: 500ms, 2s)"));
    }
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    // Fixed-point arithmetic in microseconds: no float rounding surprises, no overflow.
    let int: u64 =
        if int.is_empty() { 0 } else { int.parse().map_err(|_| format!("{text:?} is too long"))? };
    let mut frac_micros: u64 = 0;
    let mut scale: u64 = 1_000_000;
    for b in frac.bytes().take(6) {
        scale /= 10;
        frac_micros += u64::from(b - b'0') * scale;
    }
    let micros = int
        .checked_mul(1_000_000)
        .and_then(|i| i.checked_add(frac_micros))
        .and_then(|m| m.checked_mul(millis_per_unit))
        .map(|m| m / 1_000)
        .ok_or_else(|| format!("{text:?} is too long"))?;
    let d = Duration::from_micros(micros);
    if d > MAX {
        return Err(format!("{text:?} is longer than the maximum of {}s", MAX.as_secs()));
    }
    Ok(d)
}

/// Splits `<number>[unit]` (surrounding white space trimmed) into the number's text, unchecked,
/// and the milliseconds its unit stands for: `ms` 1, `s` (the default) 1000, `m` 60000. The
/// fuzz target reads the number its own way against the same split.
pub fn split_unit(text: &str) -> Result<(&str, u64), String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let millis_per_unit: u64 = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        other => return Err(format!("unknown unit {other:?} in {text:?} (use ms, s or m)")),
    };
    Ok((number, millis_per_unit))
}

/// Formats a duration for messages: `0.2 ms`, `12.3 ms`, `1.25 s`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1_000.0;
    if ms < 1_000.0 { format!("{ms:.1} ms") } else { format!("{:.2} s", ms / 1_000.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1"), Ok(Duration::from_secs(1)));
        assert_eq!(parse(" 250ms "), Ok(Duration::from_millis(250)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("0.0015s"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse("250 ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("60s"), Ok(MAX));
        assert_eq!(parse("0.0000019s"), Ok(Duration::from_micros(1)), "past the microsecond is dropped");
        assert_eq!(split_unit(" 1.5 m "), Ok(("1.5", 60_000)));
    }

    #[test]
    fn rejects_garbage_and_out_of_range() {
        for bad in
            ["", "ms", "abc", "1.2.3s", "5h", "-1s", "61s", "2m", "1e3ms", "99999999999999999999s", "."]
        {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formats_for_humans() {
        assert_eq!(human(Duration::from_micros(200)), "0.2 ms");
        assert_eq!(human(Duration::from_millis(1250)), "1.25 s");
    }
}
