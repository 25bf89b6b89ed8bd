//! Durations as written in the config file: `90s`, `5m`, `1h30m`, `2d`, or `0`.

use std::fmt;
use std::time::Duration;

/// Parses `90s`, `5m`, `1h30m`, `1d12h`, `250ms` or a bare `0`.
///
/// Units must appear largest first and at most once, so `30m1h` and `5m5m` are rejected: they
/// are almost always typos.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` has no unit"));
    }
    const UNITS: [(&str, u64); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut total_ms: u64 = 0;
    let mut rest = text;
    let mut last_unit = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                format!("`{text}` ends in a number with no unit")
            } else {
                format!("`{unit}` is not a unit")
            });
        };
        if last_unit.is_some_and(|last| index <= last) {
            return Err(format!(
                "units in `{text}` must go from largest to smallest, once each"
            ));
        }
        last_unit = Some(index);
        total_ms = number
            .checked_mul(UNITS[index].1)
            .and_then(|ms| ms.checked_add(total_ms))
            .ok_or_else(|| format!("`{text}` is too large"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Displays a duration the way the config file writes it (`1h30m`, `90s` reads as `1m30s`).
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        let mut rest = ms;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_the_docs_promise() {
        let cases = [
            ("0", 0),
            ("90s", 90_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("2d", 172_800_000),
            ("1m30s", 90_000),
            ("250ms", 250),
            (" 15s ", 15_000),
        ];
        for (text, ms) in cases {
            assert_eq!(parse(text), Ok(Duration::from_millis(ms)), "{text}");
        }
    }

    #[test]
    fn rejects_what_is_probably_a_typo() {
        for text in [
            "",
            "90",
            "5 m",
            "m5",
            "30m1h",
            "5m5m",
            "1.5h",
            "5min",
            "-5s",
            "1h30",
            "99999999999999999999d",
        ] {
            assert!(parse(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn displays_in_config_syntax() {
        assert_eq!(Human(Duration::from_secs(5400)).to_string(), "1h30m");
        assert_eq!(Human(Duration::from_secs(90)).to_string(), "1m30s");
        assert_eq!(Human(Duration::ZERO).to_string(), "0s");
    }
}
