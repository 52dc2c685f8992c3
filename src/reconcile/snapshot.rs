//! The per-kind picture of authentik that drift detection works from: one paginated list
//! every resync interval instead of one GET per resource. Our own writes go through it, so a
//! reconcile right after a write sees the write.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::Instant;

#[derive(Default)]
pub struct Snapshot {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    by_pk: HashMap<String, Value>,
    taken: Option<Instant>,
}

impl Snapshot {
    /// Whether a full list has been taken yet.
    pub fn is_taken(&self) -> bool {
        self.read(|i| i.taken.is_some())
    }

    pub fn get(&self, pk: &str) -> Option<Value> {
        self.read(|i| i.by_pk.get(pk).cloned())
    }

    pub fn upsert(&self, pk: &str, obj: Value) {
        self.write(|i| {
            i.by_pk.insert(pk.to_string(), obj);
        });
    }

    pub fn remove(&self, pk: &str) {
        self.write(|i| {
            i.by_pk.remove(pk);
        });
    }

    /// Replaces the picture with a fresh list and returns the pks whose object changed or
    /// vanished since the previous one (new pks are not reported: nothing refers to them yet
    /// unless our own write put them there already).
    pub fn replace(&self, objects: HashMap<String, Value>) -> HashSet<String> {
        self.write(|i| {
            let mut changed: HashSet<String> = i
                .by_pk
                .iter()
                .filter(|(pk, old)| objects.get(*pk) != Some(*old))
                .map(|(pk, _)| pk.clone())
                .collect();
            if i.taken.is_none() {
                changed.clear();
            }
            i.by_pk = objects;
            i.taken = Some(Instant::now());
            changed
        })
    }

    pub fn len(&self) -> usize {
        self.read(|i| i.by_pk.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of a cache; the data
        // is still a usable cache.
        f(&self.inner.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn write<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.write().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_and_vanished() {
        let s = Snapshot::default();
        let first: HashMap<_, _> = [
            ("a".to_string(), json!({"x": 1})),
            ("b".to_string(), json!({"x": 1})),
        ]
        .into();
        assert!(s.replace(first).is_empty());
        let second: HashMap<_, _> = [
            ("a".to_string(), json!({"x": 2})),
            ("c".to_string(), json!({})),
        ]
        .into();
        let changed = s.replace(second);
        assert_eq!(changed, HashSet::from(["a".to_string(), "b".to_string()]));
        assert_eq!(s.get("c"), Some(json!({})));
    }

    #[test]
    fn own_writes_are_not_reported_as_changes() {
        let s = Snapshot::default();
        s.replace([("a".to_string(), json!({"x": 1}))].into());
        s.upsert("a", json!({"x": 2}));
        assert!(
            s.replace([("a".to_string(), json!({"x": 2}))].into())
                .is_empty()
        );
    }
}
