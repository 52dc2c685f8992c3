//! A JSON reader that fails exactly like Python's `json` module (the C scanner), because
//! authentik answers a malformed body with `{"detail":"JSON parse error - <Python's message>"}`.
//!
//! Positions are counted in characters, as Python counts them in a `str`.

use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused (Python's recursion limit would be hit).
const MAX_DEPTH: usize = 512;

/// Why a body is not a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The text that follows "JSON parse error - ".
    Parse(String),
    /// Python raises `RecursionError`, which DRF does not catch: a server error.
    TooDeep,
}

/// Decode a request body the way DRF's `JSONParser` does.
pub fn parse_body(bytes: &[u8], trailing_comma_message: bool) -> Result<Value, BodyError> {
    parse_text(bytes, trailing_comma_message).map_err(|e| match e {
        Some(msg) => BodyError::Parse(msg),
        None => BodyError::TooDeep,
    })
}

/// `Err(None)` means "too deep".
fn parse_text(bytes: &[u8], trailing_comma_message: bool) -> Result<Value, Option<String>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Err(Some(utf8_message(bytes, &e))),
    };
    let chars: Vec<char> = text.chars().collect();
    if chars.first() == Some(&'\u{feff}') {
        let msg = located("Unexpected UTF-8 BOM (decode using utf-8-sig)", &chars, 0);
        return Err(Some(msg));
    }
    let mut p = Parser {
        s: &chars,
        trailing_comma_message,
        depth: 0,
    };
    let start = p.skip_ws(0);
    let (value, end) = p.value(start).map_err(|e| p.message(e))?;
    let end = p.skip_ws(end);
    if end != chars.len() {
        return Err(Some(located("Extra data", &chars, end)));
    }
    Ok(value)
}

fn utf8_message(bytes: &[u8], e: &std::str::Utf8Error) -> String {
    let pos = e.valid_up_to();
    let byte = bytes.get(pos).copied().unwrap_or(0);
    let reason = match e.error_len() {
        None => "unexpected end of data",
        Some(_) if (0xc2..=0xf4).contains(&byte) => "invalid continuation byte",
        Some(_) => "invalid start byte",
    };
    format!("'utf-8' codec can't decode byte 0x{byte:02x} in position {pos}: {reason}")
}

/// `JSONDecodeError.__str__`: "<msg>: line L column C (char P)".
fn located(msg: &str, s: &[char], pos: usize) -> String {
    let before = &s[..pos.min(s.len())];
    let line = before.iter().filter(|c| **c == '\n').count() + 1;
    let col = match before.iter().rposition(|c| *c == '\n') {
        Some(nl) => pos - nl,
        None => pos + 1,
    };
    format!("{msg}: line {line} column {col} (char {pos})")
}

enum Fail {
    /// A JSONDecodeError with its position.
    At(&'static str, usize),
    /// The scanner found no value here (StopIteration): "Expecting value".
    NoValue(usize),
    /// A non-positional ValueError (NaN/Infinity refused by DRF's strict parse_constant).
    Plain(String),
    TooDeep,
}

struct Parser<'a> {
    s: &'a [char],
    trailing_comma_message: bool,
    depth: usize,
}

type Parsed = Result<(Value, usize), Fail>;

impl Parser<'_> {
    fn message(&self, f: Fail) -> Option<String> {
        Some(match f {
            Fail::At(msg, pos) => located(msg, self.s, pos),
            Fail::NoValue(pos) => located("Expecting value", self.s, pos),
            Fail::Plain(m) => m,
            Fail::TooDeep => return None,
        })
    }

    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    }

    fn starts(&self, i: usize, word: &str) -> bool {
        let w: Vec<char> = word.chars().collect();
        self.s.get(i..i + w.len()) == Some(&w[..])
    }

    fn value(&mut self, i: usize) -> Parsed {
        match self.at(i) {
            None => Err(Fail::NoValue(i)),
            Some('"') => self.string(i + 1).map(|(s, e)| (Value::String(s), e)),
            Some('{' | '[') if self.depth >= MAX_DEPTH => Err(Fail::TooDeep),
            Some('{') => {
                self.depth += 1;
                let r = self.object(i + 1);
                self.depth -= 1;
                r
            }
            Some('[') => {
                self.depth += 1;
                let r = self.array(i + 1);
                self.depth -= 1;
                r
            }
            Some('n') if self.starts(i, "null") => Ok((Value::Null, i + 4)),
            Some('t') if self.starts(i, "true") => Ok((Value::Bool(true), i + 4)),
            Some('f') if self.starts(i, "false") => Ok((Value::Bool(false), i + 5)),
            Some('N') if self.starts(i, "NaN") => Err(constant("NaN")),
            Some('I') if self.starts(i, "Infinity") => Err(constant("Infinity")),
            Some('-') if self.starts(i, "-Infinity") => Err(constant("-Infinity")),
            Some(_) => self.number(i),
        }
    }

    fn number(&self, start: usize) -> Parsed {
        let digit = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
        let mut i = start;
        if self.at(i) == Some('-') {
            i += 1;
        }
        match self.at(i) {
            Some('1'..='9') => {
                while digit(i) {
                    i += 1;
                }
            }
            Some('0') => i += 1,
            _ => return Err(Fail::NoValue(start)),
        }
        let int_end = i;
        let mut is_float = false;
        if self.at(i) == Some('.') && digit(i + 1) {
            is_float = true;
            i += 2;
            while digit(i) {
                i += 1;
            }
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let e_start = i;
            i += 1;
            if matches!(self.at(i), Some('+' | '-')) {
                i += 1;
            }
            let digits_start = i;
            while digit(i) {
                i += 1;
            }
            if i > digits_start {
                is_float = true;
            } else {
                i = e_start;
            }
        }
        let text: String = self.s[start..i].iter().collect();
        let n = if is_float {
            let f: f64 = text.parse().unwrap_or(f64::NAN);
            // Python keeps 1e400 as inf; JSON values cannot hold it, and every consumer
            // treats inf like the string "inf" (str(inf) == "inf").
            match Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None => Value::String(crate::py::float_repr(f)),
            }
        } else {
            debug_assert_eq!(int_end, i);
            // Python ints are unbounded; saturating keeps sign and "out of range" answers.
            match text.parse::<i64>() {
                Ok(v) => Value::from(v),
                Err(_) => match text.parse::<u64>() {
                    Ok(v) => Value::from(v),
                    Err(_) if text.starts_with('-') => Value::from(i64::MIN),
                    Err(_) => Value::from(u64::MAX),
                },
            }
        };
        Ok((n, i))
    }

    /// Python's `scanstring`; `i` is just past the opening quote.
    fn string(&self, i: usize) -> Result<(String, usize), Fail> {
        let begin = i - 1;
        let mut out = String::new();
        let mut i = i;
        loop {
            let c = self
                .at(i)
                .ok_or(Fail::At("Unterminated string starting at", begin))?;
            match c {
                '"' => return Ok((out, i + 1)),
                '\\' => {
                    let esc = self
                        .at(i + 1)
                        .ok_or(Fail::At("Unterminated string starting at", begin))?;
                    if esc == 'u' {
                        let (cp, next) = self.unicode_escape(i + 1)?;
                        out.push(cp);
                        i = next;
                        continue;
                    }
                    out.push(match esc {
                        '"' => '"',
                        '\\' => '\\',
                        '/' => '/',
                        'b' => '\x08',
                        'f' => '\x0c',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        _ => return Err(Fail::At("Invalid \\escape", i)),
                    });
                    i += 2;
                }
                c if (c as u32) < 0x20 => return Err(Fail::At("Invalid control character at", i)),
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// `\uXXXX` (with surrogate pairs); `u` is the index of the `u`.
    fn unicode_escape(&self, u: usize) -> Result<(char, usize), Fail> {
        // CPython checks `end >= len`: the escape may not be the last thing in the text.
        let hex4 = |start: usize| -> Option<u32> {
            if start + 4 >= self.s.len() {
                return None;
            }
            let text: String = self.s[start..start + 4].iter().collect();
            if !text.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(&text, 16).ok()
        };
        let first = hex4(u + 1).ok_or(Fail::At("Invalid \\uXXXX escape", u))?;
        let mut next = u + 5;
        let mut cp = first;
        if (0xd800..0xdc00).contains(&first)
            && next + 6 < self.s.len()
            && self.at(next) == Some('\\')
            && self.at(next + 1) == Some('u')
        {
            let second = hex4(next + 2).ok_or(Fail::At("Invalid \\uXXXX escape", next + 1))?;
            if (0xdc00..0xe000).contains(&second) {
                cp = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                next += 6;
            }
        }
        // Lone surrogates are valid in Python strings but not in Rust ones.
        Ok((char::from_u32(cp).unwrap_or('\u{fffd}'), next))
    }

    fn object(&mut self, i: usize) -> Parsed {
        let mut map = Map::new();
        let mut i = self.skip_ws(i);
        if self.at(i) == Some('}') {
            return Ok((Value::Object(map), i + 1));
        }
        loop {
            if self.at(i) != Some('"') {
                return Err(Fail::At(
                    "Expecting property name enclosed in double quotes",
                    i,
                ));
            }
            let (key, next) = self.string(i + 1)?;
            i = self.skip_ws(next);
            if self.at(i) != Some(':') {
                return Err(Fail::At("Expecting ':' delimiter", i));
            }
            i = self.skip_ws(i + 1);
            let (value, next) = self.value(i)?;
            map.insert(key, value);
            i = self.skip_ws(next);
            if self.at(i) == Some('}') {
                return Ok((Value::Object(map), i + 1));
            }
            if self.at(i) != Some(',') {
                return Err(Fail::At("Expecting ',' delimiter", i));
            }
            let comma = i;
            i = self.skip_ws(i + 1);
            if self.trailing_comma_message && self.at(i) == Some('}') {
                return Err(Fail::At(
                    "Illegal trailing comma before end of object",
                    comma,
                ));
            }
        }
    }

    fn array(&mut self, i: usize) -> Parsed {
        let mut items = Vec::new();
        let mut i = self.skip_ws(i);
        if self.at(i) == Some(']') {
            return Ok((Value::Array(items), i + 1));
        }
        loop {
            let (value, next) = self.value(i)?;
            items.push(value);
            i = self.skip_ws(next);
            if self.at(i) == Some(']') {
                return Ok((Value::Array(items), i + 1));
            }
            if self.at(i) != Some(',') {
                return Err(Fail::At("Expecting ',' delimiter", i));
            }
            let comma = i;
            i = self.skip_ws(i + 1);
            if self.trailing_comma_message && self.at(i) == Some(']') {
                return Err(Fail::At(
                    "Illegal trailing comma before end of array",
                    comma,
                ));
            }
        }
    }
}

/// DRF's `strict_constant`: NaN and Infinity are refused.
fn constant(name: &str) -> Fail {
    Fail::Plain(format!(
        "Out of range float values are not permitted: '{name}'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        match parse_body(s.as_bytes(), false) {
            Err(BodyError::Parse(m)) => m,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn messages_match_python() {
        assert_eq!(
            err(r#"{"name": "lab-password-bad","#),
            "Expecting property name enclosed in double quotes: line 1 column 29 (char 28)"
        );
        assert_eq!(err(""), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(
            err("{\"a\": }"),
            "Expecting value: line 1 column 7 (char 6)"
        );
        assert_eq!(
            err("{\"a\" 1}"),
            "Expecting ':' delimiter: line 1 column 6 (char 5)"
        );
        assert_eq!(
            err("[1 2]"),
            "Expecting ',' delimiter: line 1 column 4 (char 3)"
        );
        assert_eq!(err("{} x"), "Extra data: line 1 column 4 (char 3)");
        assert_eq!(
            err("{\n\"a\": tru}"),
            "Expecting value: line 2 column 6 (char 7)"
        );
        assert_eq!(
            err("\"abc"),
            "Unterminated string starting at: line 1 column 1 (char 0)"
        );
        assert_eq!(
            err("\"a\\x\""),
            "Invalid \\escape: line 1 column 3 (char 2)"
        );
        assert_eq!(
            err("\"a\tb\""),
            "Invalid control character at: line 1 column 3 (char 2)"
        );
        assert_eq!(err("[1,]"), "Expecting value: line 1 column 4 (char 3)");
        assert_eq!(
            err("NaN"),
            "Out of range float values are not permitted: 'NaN'"
        );
        assert_eq!(err("01"), "Extra data: line 1 column 2 (char 1)");
    }

    #[test]
    fn trailing_comma_on_new_python() {
        let e = parse_body(b"{\"a\": 1,}", true);
        let want = "Illegal trailing comma before end of object: line 1 column 8 (char 7)";
        assert_eq!(e, Err(BodyError::Parse(want.into())));
    }

    #[test]
    fn deep_nesting_is_a_server_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse_body(deep.as_bytes(), false), Err(BodyError::TooDeep));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse_body(ok.as_bytes(), false).is_ok());
    }

    #[test]
    fn values() {
        let v = parse_body(
            br#" {"a": [1, -2.5, "\u00e9\ud83d\ude00", null, true], "a": 3} "#,
            false,
        );
        assert_eq!(v.ok(), Some(serde_json::json!({"a": 3})));
        let v = parse_body(br#"[1e2, 99999999999999999999999]"#, false);
        assert_eq!(v.ok(), Some(serde_json::json!([100.0, u64::MAX])));
    }
}
