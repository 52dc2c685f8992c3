//! Ordered JSON output.
//!
//! authentik renders fields in serializer order; clients and the transcript replay compare
//! bodies byte for byte, so responses are built as ordered trees instead of `serde_json::Map`
//! (which sorts keys unless the workspace-wide `preserve_order` feature is on).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// A JSON value whose object keys keep the order they were added in.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Out>),
    Obj(Vec<(String, Out)>),
    /// An arbitrary value (its object keys come out sorted).
    Val(Value),
}

impl Out {
    pub fn str(s: impl Into<String>) -> Out {
        Out::Str(s.into())
    }

    /// An object from `(key, value)` pairs.
    pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Out)>) -> Out {
        Out::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// `{"detail": msg}`, DRF's shape for 403/404/405/415 and parse errors.
    pub fn detail(msg: impl Into<String>) -> Out {
        Out::obj([("detail", Out::Str(msg.into()))])
    }

    /// A list of strings (a field's error list).
    pub fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Out {
        Out::Arr(items.into_iter().map(|s| Out::Str(s.into())).collect())
    }

    /// Compact JSON text, as DRF's renderer writes it.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"null".to_vec())
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The value of `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Out> {
        match self {
            Out::Obj(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl From<Value> for Out {
    fn from(v: Value) -> Out {
        match v {
            Value::Null => Out::Null,
            Value::Bool(b) => Out::Bool(b),
            Value::String(s) => Out::Str(s),
            Value::Array(items) => Out::Arr(items.into_iter().map(Out::from).collect()),
            other => Out::Val(other),
        }
    }
}

impl From<Option<String>> for Out {
    fn from(v: Option<String>) -> Out {
        v.map_or(Out::Null, Out::Str)
    }
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Null => s.serialize_unit(),
            Out::Bool(b) => s.serialize_bool(*b),
            Out::Int(i) => s.serialize_i64(*i),
            Out::Str(v) => s.serialize_str(v),
            Out::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Out::Obj(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Out::Val(v) => v.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order() {
        let o = Out::obj([
            ("z", Out::Int(1)),
            ("a", Out::Null),
            ("m", Out::strings(["x"])),
        ]);
        assert_eq!(
            String::from_utf8(o.to_bytes()).unwrap_or_default(),
            r#"{"z":1,"a":null,"m":["x"]}"#
        );
    }
}
