//! authentik's duration strings (`hours=3;minutes=1`), as `authentik/lib/utils/time.py`
//! parses them: `;`-separated `key=value` pieces, each with exactly one `=`; keys compared
//! case-insensitively and not trimmed; unknown keys skipped without reading their value; at
//! least one known key; known values parse as floats. The same grammar is enforced twice: by
//! a CEL rule in the CRD (so `kubectl apply` refuses a bad value) and by [`validate`] here.

/// Keys authentik passes to Python's `timedelta`.
pub const KEYS: [&str; 7] = [
    "microseconds",
    "milliseconds",
    "seconds",
    "minutes",
    "hours",
    "days",
    "weeks",
];

/// A finite Python float literal (optional sign, digits with single underscores between them,
/// fraction, exponent). `inf` and `nan` are left out on purpose: authentik answers a 500 for
/// an infinite duration and refuses NaN.
const FLOAT_RE: &str = r"^[+-]?(([0-9](_?[0-9])*)([.]([0-9](_?[0-9])*)?)?|[.][0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?$";

/// The CEL rule of a duration field in the CRD (Kubernetes CEL has the strings extension:
/// `split`, `lowerAscii`, `trim`).
pub fn cel_rule() -> String {
    let keys = KEYS.map(|k| format!("'{k}'")).join(", ");
    format!(
        "self == self.trim() && self.split(';').all(p, p.split('=').size() == 2 && \
         (!(p.split('=')[0].lowerAscii() in [{keys}]) || p.split('=')[1].trim().matches('{FLOAT_RE}'))) && \
         self.split(';').exists(p, p.split('=').size() == 2 && p.split('=')[0].lowerAscii() in [{keys}])"
    )
}

/// The message the API server shows with the field path in front of it.
pub const CEL_MESSAGE: &str = "must be an authentik duration such as 'hours=3;minutes=1': ';'-separated key=value pairs with at least one key among weeks, days, hours, minutes, seconds, milliseconds, microseconds and a finite number as its value, with no surrounding whitespace (authentik would trim it and never match the spec)";

/// Longest duration string accepted; bounds the cost of the CEL rule.
pub const MAX_LEN: usize = 256;

/// Checks a duration string with authentik's rules; the error says what is wrong.
pub fn validate(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be blank".into());
    }
    if value.trim() != value {
        // authentik stores it trimmed: the spec could never match.
        return Err(format!("{value:?}: surrounding whitespace"));
    }
    let mut known = 0;
    for piece in value.split(';') {
        let mut parts = piece.split('=');
        let (Some(key), Some(val), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "{value:?}: each ';'-separated piece needs exactly one '='"
            ));
        };
        if !KEYS.contains(&key.to_lowercase().as_str()) {
            continue;
        }
        if !is_finite_float(val.trim()) {
            return Err(format!("{value:?}: {key} has no valid number ({val:?})"));
        }
        known += 1;
    }
    if known == 0 {
        return Err(format!(
            "{value:?}: no known key (one of {})",
            KEYS.join(", ")
        ));
    }
    Ok(())
}

/// The duration's total in seconds, as Python's `timedelta` adds its keys up.
pub fn seconds(value: &str) -> Result<f64, String> {
    validate(value)?;
    let mut total = 0.0;
    for piece in value.split(';') {
        let Some((key, val)) = piece.split_once('=') else {
            continue;
        };
        let unit = match key.to_lowercase().as_str() {
            "microseconds" => 1e-6,
            "milliseconds" => 1e-3,
            "seconds" => 1.0,
            "minutes" => 60.0,
            "hours" => 3600.0,
            "days" => 86_400.0,
            "weeks" => 604_800.0,
            _ => continue,
        };
        let n: f64 = val
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{value:?}: {key} has no valid number ({val:?})"))?;
        total += n * unit;
    }
    Ok(total)
}

/// Hand-written twin of [`FLOAT_RE`], so the operator needs no regex engine.
fn is_finite_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let mantissa_ok = match frac {
        None => digits(int),
        Some(f) if int.is_empty() => digits(f),
        Some(f) => digits(int) && (f.is_empty() || digits(f)),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// One or more ASCII digits, with single underscores only between digits (Python's rule).
fn digits(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_digit()
        && b[b.len() - 1].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_digit() || *c == b'_')
        && !s.contains("__")
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_authentik_examples() {
        for ok in [
            "seconds=0",
            "hours=3;minutes=1",
            "days=30",
            "HOURS=1",
            "hours=-1;minutes=2.5",
            "hours= 1",
            "hours=1;fortnights=x",
            "hours=1; minutes=2", // " minutes" is an unknown key: skipped, as authentik does
            "weeks=1e2",
            "seconds=.5",
            "seconds=5.",
            "seconds=1_000",
        ] {
            assert!(
                validate(ok).is_ok(),
                "{ok} should be valid: {:?}",
                validate(ok)
            );
        }
    }

    #[test]
    fn refuses_what_authentik_refuses() {
        for bad in [
            "",
            "   ",
            "forever",
            "fortnights=2",
            "hours=x",
            "hours=1;",
            "hours=1 ",
            "\nhours=1",
            "hours==1",
            "hours=1=2",
            "hours=nan",
            "hours=inf",
            "hours=",
            "seconds=1__0",
            "seconds=_1",
            "seconds=1e",
            "seconds=.",
        ] {
            assert!(validate(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn totals_add_the_keys_up() {
        assert_eq!(super::seconds("minutes=30"), Ok(1800.0));
        assert_eq!(super::seconds("hours=1;minutes=2.5"), Ok(3750.0));
        assert_eq!(super::seconds("HOURS=1;fortnights=x"), Ok(3600.0));
        assert!(super::seconds("forever").is_err());
    }

    #[test]
    fn error_names_the_value() {
        let err = validate("hours=x").unwrap_err();
        assert!(err.contains("hours=x"), "{err}");
    }
}
