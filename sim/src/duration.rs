//! authentik's duration strings (`authentik/lib/utils/time.py`, `timedelta_from_string`):
//! `key=value` pairs separated by `;`, e.g. `hours=1;minutes=30`.

use crate::py;

const KEYS: [&str; 7] = [
    "microseconds",
    "milliseconds",
    "seconds",
    "minutes",
    "hours",
    "days",
    "weeks",
];

/// Microseconds per unit, in the order Python's `timedelta()` accumulates them.
const UNIT_US: [(&str, f64); 7] = [
    ("microseconds", 1.0),
    ("milliseconds", 1e3),
    ("seconds", 1e6),
    ("minutes", 60e6),
    ("hours", 3600e6),
    ("days", 86400e6),
    ("weeks", 604800e6),
];

/// Why a duration string is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    /// A `ValueError`: answered with the "not in the correct format" message.
    Format,
    /// Python's `OverflowError` (infinite or out-of-range values), which authentik's validator
    /// does not catch: a server error.
    Overflow,
}

/// Validate `expr` exactly like `timedelta_string_validator`.
///
/// Rules: every `;`-piece has exactly one `=`; keys are matched case-insensitively and are
/// *not* trimmed (so `hours=1; minutes=2` silently ignores " minutes"); unknown keys are
/// skipped without looking at their value; at least one known key; known values parse as
/// Python floats.
pub fn validate(expr: &str) -> Result<(), DurationError> {
    let mut values: Vec<(&'static str, f64)> = Vec::new();
    for pair in expr.split(';') {
        let mut parts = pair.split('=');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(DurationError::Format);
        };
        let key = key.to_lowercase();
        let Some(known) = KEYS.iter().find(|k| **k == key) else {
            continue;
        };
        let v = py::float(value).ok_or(DurationError::Format)?;
        // A repeated key overrides the earlier one, as in a Python dict.
        values.retain(|(k, _)| k != known);
        values.push((known, v));
    }
    if values.is_empty() {
        return Err(DurationError::Format);
    }
    // timedelta() converts each argument in a fixed order; the first NaN is a ValueError,
    // the first infinity an OverflowError.
    let mut total_us = 0.0;
    for (unit, scale) in UNIT_US {
        if let Some((_, v)) = values.iter().find(|(k, _)| *k == unit) {
            if v.is_nan() {
                return Err(DurationError::Format);
            }
            if v.is_infinite() {
                return Err(DurationError::Overflow);
            }
            total_us += v * scale;
        }
    }
    // timedelta's range is ±999999999 days.
    let limit = 999_999_999.0 * 86400e6;
    if !total_us.is_finite() || total_us < -limit || total_us >= limit + 86400e6 {
        return Err(DurationError::Overflow);
    }
    Ok(())
}

/// The 400 message for a refused duration string.
pub fn format_message(value: &str) -> String {
    format!("{value} is not in the correct format of 'hours=3;minutes=1'.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use DurationError::*;

    #[test]
    fn grammar() {
        assert_eq!(validate("seconds=0"), Ok(()));
        assert_eq!(validate("hours=1;minutes=30"), Ok(()));
        assert_eq!(validate("HOURS=-1;minutes=2.5"), Ok(()));
        assert_eq!(validate("hours=1; minutes=2"), Ok(()));
        assert_eq!(
            validate("hours=1; minutes=x"),
            Ok(()),
            "unknown key ' minutes' is skipped"
        );
        assert_eq!(validate("weeks=2"), Ok(()));
        assert_eq!(validate("days= 1 "), Ok(()));
        assert_eq!(validate("forever"), Err(Format));
        assert_eq!(validate("fortnights=2"), Err(Format));
        assert_eq!(validate("hours=x"), Err(Format));
        assert_eq!(validate("1d"), Err(Format));
        assert_eq!(validate("hours=1;"), Err(Format), "empty piece");
        assert_eq!(validate("hours==1"), Err(Format));
        assert_eq!(validate(" hours=1"), Err(Format), "keys are not trimmed");
        assert_eq!(validate("hours=nan"), Err(Format));
        assert_eq!(validate("hours="), Err(Format));
        assert_eq!(validate("hours=inf"), Err(Overflow));
        assert_eq!(validate("days=1e10"), Err(Overflow));
        assert_eq!(validate("days=999999999"), Ok(()));
    }
}
