//! What authentik should hold for a resource: each field its spec sets, as the body field it
//! is sent as, with references resolved the checker's own way (a `ref` through the named
//! resource's `status.pk`; a slug, name or username through what the run found in the fresh
//! install). Compared the way authentik stores values (UUIDs in any case, lists of set
//! fields in any order).

use std::collections::HashMap;

use authentik_operator::crd::common::POLICY_KEYS;
use authentik_operator::crd::refs::Target;
use serde_json::Value;

use super::checker::{Res, Snapshot};
use super::registry::KindInfo;

/// One body field and the value it should have.
#[derive(Debug)]
pub struct Want {
    pub key: String,
    pub value: Value,
    pub set: bool,
}

/// The fields `res`'s object should have; `Err` says why they cannot be known yet (a
/// reference without a pk).
pub fn wants(
    info: &KindInfo,
    res: &Res,
    snap: &Snapshot,
    fixed: &HashMap<String, Value>,
) -> Result<Vec<Want>, String> {
    let mut out = Vec::new();
    let spec = res.spec.as_object().cloned().unwrap_or_default();
    for (key, value) in &spec {
        if POLICY_KEYS.contains(&key.as_str()) || info.secrets.contains(&key.as_str()) {
            continue;
        }
        if value.is_null() {
            continue;
        }
        let body_key = info.body_key(key);
        if let Some(r) = info.ref_spec(key) {
            let value = match value {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|v| resolve(r.target, v, snap, fixed))
                        .collect::<Result<_, _>>()?,
                ),
                one => resolve(r.target, one, snap, fixed)?,
            };
            out.push(Want {
                key: body_key,
                set: r.many,
                value,
            });
            continue;
        }
        out.push(Want {
            set: info.set_fields.contains(&body_key.as_str()),
            key: body_key,
            value: value.clone(),
        });
    }
    // The key defaults to the resource's name.
    for key in ["name", "slug"] {
        if info.key == [key] && !spec.contains_key(key) {
            out.push(Want {
                key: key.into(),
                value: Value::String(res.name.clone()),
                set: false,
            });
        }
    }
    Ok(out)
}

/// The pk a reference should resolve to.
fn resolve(
    target: Target,
    v: &Value,
    snap: &Snapshot,
    fixed: &HashMap<String, Value>,
) -> Result<Value, String> {
    if let Some(r) = v.get("ref") {
        let (kind, name) = match r {
            Value::String(name) => (target.custom_resource_kind().unwrap_or("?"), name.as_str()),
            other => (
                other["kind"].as_str().unwrap_or("?"),
                other["name"].as_str().unwrap_or("?"),
            ),
        };
        let res = snap
            .resources
            .get(&(kind.to_string(), name.to_string()))
            .ok_or_else(|| format!("refers to {kind}/{name}, which does not exist"))?;
        return res
            .pk()
            .map(Value::String)
            .ok_or_else(|| format!("refers to {kind}/{name}, which has no pk yet"));
    }
    if let Some(pk) = v.get("pk") {
        return Ok(pk.clone());
    }
    let lookup = match target {
        Target::Flow => v.get("slug").map(|s| format!("slug:{}", text(s))),
        Target::Source => v.get("slug").map(|s| format!("source:{}", text(s))),
        Target::Group => v.get("name").map(|s| format!("group:{}", text(s))),
        Target::User => v.get("username").map(|s| format!("user:{}", text(s))),
        _ => None,
    };
    lookup
        .and_then(|l| fixed.get(&l).cloned())
        .ok_or_else(|| format!("a reference the run cannot resolve: {v}"))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A value as compared: UUIDs in lower case, numbers as numbers.
fn norm(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() == 36 && s.matches('-').count() == 4 => {
            Value::String(s.to_ascii_lowercase())
        }
        Value::Number(n) => n.as_f64().map_or(v.clone(), |f| serde_json::json!(f)),
        Value::Array(items) => Value::Array(items.iter().map(norm).collect()),
        other => other.clone(),
    }
}

/// Whether authentik's `got` is what `want` asks for.
pub fn same(want: &Want, got: Option<&Value>) -> bool {
    let got = got.map(norm).unwrap_or(Value::Null);
    let want_value = norm(&want.value);
    match (want.set, &want_value, &got) {
        (true, Value::Array(a), Value::Array(b)) => {
            let mut a: Vec<String> = a.iter().map(Value::to_string).collect();
            let mut b: Vec<String> = b.iter().map(Value::to_string).collect();
            // A set: the same member twice (a prompt named by ref and by pk) is one.
            a.sort();
            a.dedup();
            b.sort();
            b.dedup();
            a == b
        }
        _ => want_value == got,
    }
}
