//! Small re-implementations of the Python built-ins whose exact behaviour leaks into
//! authentik's answers: `str.strip`, `int()`, `float()`, `str()`/`repr()` of JSON values,
//! `type(x).__name__` and `uuid.UUID(hex=...)`.

use serde_json::Value;
use uuid::Uuid;

/// Python's `str.isspace` for one character.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.strip()` without arguments.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Digits with single underscores between them, as `int()` and `float()` accept.
fn digits_ok(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// Python's `int(s)` for a base-10 string, saturated to the i128 range (every caller only
/// compares the result with far smaller bounds).
pub fn int(s: &str) -> Option<i128> {
    let s = strip(s);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if !digits_ok(digits) {
        return None;
    }
    let mut v: i128 = 0;
    for c in digits.chars().filter(|c| *c != '_') {
        let d = i128::from(c.to_digit(10)? as u8);
        v = v.saturating_mul(10).saturating_add(d);
    }
    Some(if neg { -v } else { v })
}

/// Python's `float(s)`.
pub fn float(s: &str) -> Option<f64> {
    let s = strip(s);
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = rest.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => {
            let (mantissa, exponent) = match lower.find('e') {
                Some(i) => (&lower[..i], Some(&lower[i + 1..])),
                None => (lower.as_str(), None),
            };
            let (int_part, frac_part) = match mantissa.find('.') {
                Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
                None => (mantissa, None),
            };
            let int_ok = int_part.is_empty() || digits_ok(int_part);
            let frac_ok = frac_part.is_none_or(|f| f.is_empty() || digits_ok(f));
            let has_digits = !int_part.is_empty() || frac_part.is_some_and(|f| !f.is_empty());
            let exp_ok = exponent.is_none_or(|e| {
                let e = e.strip_prefix(['+', '-']).unwrap_or(e);
                digits_ok(e)
            });
            if !(int_ok && frac_ok && has_digits && exp_ok) {
                return None;
            }
            lower.replace('_', "").parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// Python's `repr()` of a float (`1.0`, `1.5`, `1e+16`, `inf`, `nan`).
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Python's repr does.
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mant) = mant.strip_prefix('-').map_or(("", mant), |m| ("-", m));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if !(-4..16).contains(&exp) {
        let rest = &digits[1..];
        let m = if rest.is_empty() {
            digits[..1].to_string()
        } else {
            format!("{}.{rest}", &digits[..1])
        };
        let es = if exp < 0 { "-" } else { "+" };
        return format!("{sign}{m}e{es}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
    } else if (point as usize) >= digits.len() {
        format!(
            "{sign}{digits}{}.0",
            "0".repeat(point as usize - digits.len())
        )
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{sign}{a}.{b}")
    }
}

/// Python's `repr()` of a str.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str()` of the value a JSON document decodes to.
pub fn to_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// Python's `repr()` of the value a JSON document decodes to.
pub fn repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(u)) => u.to_string(),
            _ => float_repr(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => str_repr(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", str_repr(k), repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// `type(x).__name__` of the value a JSON document decodes to.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `uuid.UUID(hex=s)`: accepts braces, `urn:uuid:` prefixes, upper case and missing dashes.
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    let s = s.replace("urn:", "").replace("uuid:", "");
    let s = s.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if s.chars().count() != 32 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(&s, 16).ok().map(Uuid::from_u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int() {
        assert_eq!(int(" 12 "), Some(12));
        assert_eq!(int("+1_000"), Some(1000));
        assert_eq!(int("-3"), Some(-3));
        assert_eq!(int("1__0"), None);
        assert_eq!(int("_1"), None);
        assert_eq!(int("1.0"), None);
        assert_eq!(int(""), None);
        assert_eq!(int("abc"), None);
    }

    #[test]
    fn python_float() {
        assert_eq!(float("1.5"), Some(1.5));
        assert_eq!(float(" -2 "), Some(-2.0));
        assert_eq!(float(".5"), Some(0.5));
        assert_eq!(float("5."), Some(5.0));
        assert_eq!(float("1e3"), Some(1000.0));
        assert_eq!(float("1_0.5"), Some(10.5));
        assert_eq!(float("Infinity"), Some(f64::INFINITY));
        assert!(float("nan").is_some_and(f64::is_nan));
        assert_eq!(float("."), None);
        assert_eq!(float("x"), None);
        assert_eq!(float("1e"), None);
        assert_eq!(float(""), None);
    }

    #[test]
    fn python_float_repr() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(1.5), "1.5");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(-2.5e-7), "-2.5e-07");
        assert_eq!(float_repr(123.456), "123.456");
    }

    #[test]
    fn python_repr() {
        let v: Value = serde_json::json!(["a", 1, true, null, {"k": "it's"}]);
        assert_eq!(repr(&v), "['a', 1, True, None, {'k': \"it's\"}]");
    }

    #[test]
    fn python_uuid() {
        let u = "c39a73df-9ffe-4937-b08f-ed3d451e952b";
        assert_eq!(parse_uuid(u).map(|x| x.to_string()), Some(u.to_string()));
        assert_eq!(
            parse_uuid(&format!("{{{}}}", u.to_uppercase())).map(|x| x.to_string()),
            Some(u.to_string())
        );
        assert_eq!(
            parse_uuid(&u.replace('-', "")).map(|x| x.to_string()),
            Some(u.to_string())
        );
        assert!(parse_uuid("not-a-uuid").is_none());
        assert!(parse_uuid("").is_none());
    }
}
