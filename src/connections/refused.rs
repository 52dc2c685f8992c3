//! Writes authentik refused or could not keep, remembered per object so that the same body
//! is not sent again: the status write that reports a refusal starts another reconcile,
//! which would send it once more, and so would every reconcile after it until the spec
//! changes. A different body (a spec change, a reference resolved to another pk, the object
//! changed in authentik since) is sent. A restart forgets, at the cost of one more attempt.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

/// An object: its kind's endpoint and its pk (or, for a create, its key).
type Object = (&'static str, String);
/// What was refused: the body's fingerprint, and authentik's reason.
type Refusal = (u64, String);

#[derive(Default)]
pub struct Refused(Mutex<HashMap<Object, Refusal>>);

fn fingerprint(body: &Map<String, Value>) -> u64 {
    let mut h = DefaultHasher::new();
    Value::Object(body.clone()).to_string().hash(&mut h);
    h.finish()
}

impl Refused {
    /// Why this very body was refused for the object at `endpoint`/`pk`, if it was.
    pub fn before(
        &self,
        endpoint: &'static str,
        pk: &str,
        body: &Map<String, Value>,
    ) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (hash, why) = map.get(&(endpoint, pk.to_string()))?;
        (*hash == fingerprint(body)).then(|| why.clone())
    }

    /// Remembers that `body` was refused for the object, and why.
    pub fn record(&self, endpoint: &'static str, pk: &str, body: &Map<String, Value>, why: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(
            (endpoint, pk.to_string()),
            (fingerprint(body), why.to_string()),
        );
    }

    /// Forgets the object's refusal: a write of it went through.
    pub fn clear(&self, endpoint: &'static str, pk: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&(endpoint, pk.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn only_the_same_body_for_the_same_object_is_held_back() {
        let r = Refused::default();
        let bad = body(json!({"expression": "return [1, 2"}));
        assert_eq!(r.before("policies/expression/", "a", &bad), None);
        r.record("policies/expression/", "a", &bad, "never closed");
        assert_eq!(
            r.before("policies/expression/", "a", &bad).as_deref(),
            Some("never closed")
        );
        let other = body(json!({"expression": "return True"}));
        assert_eq!(r.before("policies/expression/", "a", &other), None);
        assert_eq!(r.before("policies/expression/", "b", &bad), None);
        assert_eq!(r.before("policies/password/", "a", &bad), None);
        r.clear("policies/expression/", "a");
        assert_eq!(r.before("policies/expression/", "a", &bad), None);
    }
}
