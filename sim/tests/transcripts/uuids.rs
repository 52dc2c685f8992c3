//! Mapping the transcripts' generated keys to the simulator's: uuids (with dashes, and as
//! the 32-digit hex that event contexts print) and groups' random `num_pk`.

use std::collections::HashMap;

use serde_json::Value;

/// A uuid occurrence: its byte range and whether it is printed without dashes.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    start: usize,
    end: usize,
    hex: bool,
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// The uuids in `s`: 36-character dashed ones and 32-digit hex words.
fn spans(s: &str) -> Vec<Span> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let dashed = i + 36 <= b.len()
            && (0..36).all(|j| match j {
                8 | 13 | 18 | 23 => b[i + j] == b'-',
                _ => is_hex(b[i + j]),
            });
        if dashed {
            out.push(Span {
                start: i,
                end: i + 36,
                hex: false,
            });
            i += 36;
            continue;
        }
        let word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let hex = word_start
            && i + 32 <= b.len()
            && (0..32).all(|j| is_hex(b[i + j]))
            && b.get(i + 32).is_none_or(|c| !c.is_ascii_alphanumeric());
        if hex {
            out.push(Span {
                start: i,
                end: i + 32,
                hex: true,
            });
            i += 32;
            continue;
        }
        i += 1;
    }
    out
}

/// `0123…` (32 hex digits) as `01234567-89ab-…`.
pub fn dashed(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[derive(Default)]
pub struct UuidMap {
    forward: HashMap<String, String>,
    backward: HashMap<String, String>,
    nums: HashMap<i64, i64>,
}

impl UuidMap {
    /// Map every uuid of `text` to itself (objects the simulator was seeded with, as they
    /// are on the server the transcript was recorded on).
    pub fn identity(&mut self, text: &str) {
        for sp in spans(text) {
            let u = &text[sp.start..sp.end];
            let u = if sp.hex { dashed(u) } else { u.to_string() };
            self.forward.insert(u.clone(), u.clone());
            self.backward.insert(u.clone(), u);
        }
    }

    /// Whether a transcript uuid (either form) was learned in this replay.
    pub fn knows(&self, t: &str) -> bool {
        let t = if t.len() == 32 {
            dashed(t)
        } else {
            t.to_string()
        };
        self.forward.contains_key(&t)
    }

    /// Rewrite the transcript's uuids and `num_pk`s in `s` as the simulator's.
    pub fn apply(&self, s: &str) -> String {
        let mut out = String::new();
        let mut last = 0;
        for sp in spans(s) {
            out.push_str(&s[last..sp.start]);
            let text = &s[sp.start..sp.end];
            let key = if sp.hex {
                dashed(text)
            } else {
                text.to_string()
            };
            match self.forward.get(&key) {
                Some(v) if sp.hex => out.push_str(&v.replace('-', "")),
                Some(v) => out.push_str(v),
                None => out.push_str(text),
            }
            last = sp.end;
        }
        out.push_str(&s[last..]);
        self.apply_nums(&out)
    }

    fn apply_nums(&self, s: &str) -> String {
        const KEY: &str = "\"num_pk\":";
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find(KEY) {
            let (head, tail) = rest.split_at(i + KEY.len());
            out.push_str(head);
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse::<i64>().ok().and_then(|n| self.nums.get(&n)) {
                Some(m) => out.push_str(&m.to_string()),
                None => out.push_str(&digits),
            }
            rest = &tail[digits.len()..];
        }
        out.push_str(rest);
        out
    }

    pub fn learn_str(&mut self, t: &str, s: &str) {
        let (ts, ss) = (spans(t), spans(s));
        if ts.len() != ss.len() {
            return;
        }
        for (a, b) in ts.into_iter().zip(ss) {
            if a.hex != b.hex {
                continue;
            }
            let norm = |text: &str, hex: bool| {
                if hex { dashed(text) } else { text.to_string() }
            };
            let (tu, su) = (
                norm(&t[a.start..a.end], a.hex),
                norm(&s[b.start..b.end], b.hex),
            );
            if !self.forward.contains_key(&tu) && !self.backward.contains_key(&su) {
                self.forward.insert(tu.clone(), su.clone());
                self.backward.insert(su, tu);
            }
        }
    }

    /// Map the keys of `t` (transcript) to those at the same place in `s` (simulator).
    pub fn learn(&mut self, t: &Value, s: &Value) {
        match (t, s) {
            (Value::String(a), Value::String(b)) => self.learn_str(a, b),
            (Value::Array(a), Value::Array(b)) => {
                a.iter().zip(b).for_each(|(x, y)| self.learn(x, y))
            }
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    let Some(w) = b.get(k) else { continue };
                    if k == "num_pk"
                        && let (Some(x), Some(y)) = (v.as_i64(), w.as_i64())
                    {
                        self.nums.entry(x).or_insert(y);
                        continue;
                    }
                    self.learn(v, w);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_dashed_hex_and_num_pk() {
        let mut map = UuidMap::default();
        map.learn_str(
            "x 3e9d104a-89b5-4e8a-9a0a-b3ce93fb22d1",
            "x 00000000-0000-4000-8000-000000000001",
        );
        assert_eq!(
            map.apply("/3e9d104a-89b5-4e8a-9a0a-b3ce93fb22d1/ 3e9d104a89b54e8a9a0ab3ce93fb22d1"),
            "/00000000-0000-4000-8000-000000000001/ 00000000000040008000000000000001"
        );
        assert!(map.knows("3e9d104a89b54e8a9a0ab3ce93fb22d1"));
        map.learn(
            &serde_json::json!({"num_pk": 80389}),
            &serde_json::json!({"num_pk": 12345}),
        );
        assert_eq!(
            map.apply("{\"num_pk\":80389,\"a\":1}"),
            "{\"num_pk\":12345,\"a\":1}"
        );
    }
}
