//! The per-kind picture of authentik that drift detection works from: one paginated list
//! every resync interval instead of one GET per resource. Our own writes go through it, so a
//! reconcile right after a write sees the write. It also answers "does an object of this
//! kind hold this key (a name, a slug)?" while its last full list is recent, which spares a
//! new resource its lookup.

use crate::crd::kind::key_text;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub struct Snapshot {
    inner: RwLock<Inner>,
    /// The fields kept of each object (empty: all). A stage body carries much the operator
    /// never compares (`flow_set`, `component`, ...); keeping only what a spec can set
    /// keeps the snapshot small, and changes to the rest cause no reconcile.
    keep: HashSet<String>,
    /// The fields that make an object's key (see `Kind::KEY`).
    key: &'static [&'static str],
}

/// An object as the snapshot keeps it: its kept fields as JSON text (a third of the memory of
/// a `Value` tree, and as comparable: serde_json writes a map's keys sorted), and its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    json: Box<str>,
    key: Option<Box<str>>,
}

impl Kept {
    fn value(&self) -> Value {
        // Written by serde_json from a Value, so it reads back.
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct Inner {
    /// Each object with when it was learnt (the start of the list, or our own write).
    by_pk: HashMap<String, (Kept, Instant)>,
    /// The key of each object in `by_pk`, to its pk.
    keys: HashMap<Box<str>, String>,
    taken: Option<Instant>,
}

impl Inner {
    fn index(&mut self) {
        self.keys = self
            .by_pk
            .iter()
            .filter_map(|(pk, (v, _))| Some((v.key.clone()?, pk.clone())))
            .collect();
    }

    fn insert(&mut self, pk: &str, obj: Kept, at: Instant) {
        self.forget(pk);
        if let Some(key) = &obj.key {
            self.keys.insert(key.clone(), pk.to_string());
        }
        self.by_pk.insert(pk.to_string(), (obj, at));
    }

    fn forget(&mut self, pk: &str) {
        if let Some((old, _)) = self.by_pk.remove(pk)
            && let Some(key) = old.key
            && self.keys.get(&key).is_some_and(|p| p == pk)
        {
            self.keys.remove(&key);
        }
    }
}

/// A stage's `flow_set`: the flows it is bound to, each a whole flow object in authentik's
/// answer. The snapshot keeps their slugs only (what a stage's status reports).
pub const FLOW_SET: &str = "flow_set";

fn flow_slugs(flow_set: Value) -> Value {
    match flow_set {
        Value::Array(flows) => flows
            .into_iter()
            .filter_map(|f| f.get("slug").cloned())
            .collect(),
        other => other,
    }
}

fn key_of(key: &[&str], v: &Value) -> Option<String> {
    key_text(key, v.as_object()?)
}

impl Snapshot {
    /// A snapshot of objects with this key that keeps only these fields of each (`pk` and
    /// the key's always); none given, it keeps everything.
    pub fn keeping(
        key: &'static [&'static str],
        fields: impl IntoIterator<Item = String>,
    ) -> Snapshot {
        let mut keep: HashSet<String> = fields.into_iter().collect();
        if !keep.is_empty() {
            keep.insert("pk".to_string());
            keep.extend(key.iter().map(|k| k.to_string()));
        }
        Snapshot {
            keep,
            key,
            inner: RwLock::default(),
        }
    }

    /// What this snapshot keeps of `obj`: a caller reading a long list cuts each object down
    /// as it arrives, instead of holding every whole one until [`Snapshot::replace_kept`].
    pub fn kept(&self, obj: Value) -> Kept {
        let obj = match obj {
            Value::Object(fields) if !self.keep.is_empty() => Value::Object(
                fields
                    .into_iter()
                    .filter(|(k, _)| self.keep.contains(k))
                    .map(|(k, v)| match k.as_str() {
                        FLOW_SET => (k, flow_slugs(v)),
                        _ => (k, v),
                    })
                    .collect(),
            ),
            other => other,
        };
        Kept {
            key: key_of(self.key, &obj).map(Into::into),
            json: obj.to_string().into(),
        }
    }

    /// Whether a full list has been taken yet.
    pub fn is_taken(&self) -> bool {
        self.read(|i| i.taken.is_some())
    }

    pub fn get(&self, pk: &str) -> Option<Value> {
        self.read(|i| i.by_pk.get(pk).map(|(v, _)| v.value()))
    }

    /// Whether the snapshot holds an object of this pk.
    pub fn contains(&self, pk: &str) -> bool {
        self.read(|i| i.by_pk.contains_key(pk))
    }

    pub fn upsert(&self, pk: &str, obj: Value) {
        let obj = self.kept(obj);
        self.write(|i| i.insert(pk, obj, Instant::now()));
    }

    pub fn remove(&self, pk: &str) {
        self.write(|i| i.forget(pk));
    }

    /// Whether an object of this kind holds the key `text`, if a full list was taken within `max_age`
    /// (with our own writes since); `None` when the picture is older than that, or was never
    /// taken. A "no" can still be overtaken by someone creating the name since the list: the
    /// caller must expect its create to be refused.
    pub fn holds_key(&self, text: &str, max_age: Duration) -> Option<bool> {
        self.read(|i| {
            let recent = i.taken.is_some_and(|t| t.elapsed() <= max_age);
            recent.then(|| i.keys.contains_key(text))
        })
    }

    /// [`Snapshot::replace_kept`] with whole objects.
    pub fn replace(
        &self,
        objects: HashMap<String, Value>,
        listed_from: Instant,
    ) -> HashSet<String> {
        let objects = objects
            .into_iter()
            .map(|(pk, v)| (pk, self.kept(v)))
            .collect();
        self.replace_kept(objects, listed_from)
    }

    /// Replaces the picture with a list whose reading started at `listed_from`, and returns
    /// the pks whose object changed or vanished since the previous picture (new pks are not
    /// reported: nothing refers to them yet unless our own write put them there already).
    /// Our own writes that landed while the list was being read are newer than the list:
    /// they are kept, and not reported as changes.
    pub fn replace_kept(
        &self,
        objects: HashMap<String, Kept>,
        listed_from: Instant,
    ) -> HashSet<String> {
        self.write(|i| {
            let mut next: HashMap<String, (Kept, Instant)> = objects
                .into_iter()
                .map(|(pk, v)| (pk, (v, listed_from)))
                .collect();
            for (pk, (v, at)) in &i.by_pk {
                if *at > listed_from {
                    next.insert(pk.clone(), (v.clone(), *at));
                }
            }
            // Also on the first list: objects our reconciles read before it (a resource
            // created before the first sweep finished) are compared like any other.
            let changed = i
                .by_pk
                .iter()
                .filter(|(pk, (old, _))| next.get(*pk).map(|(v, _)| v) != Some(old))
                .map(|(pk, _)| pk.clone())
                .collect();
            i.by_pk = next;
            i.index();
            // Fresh as of the list's start: a name created during the reading may be missing.
            i.taken = Some(listed_from);
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
        let s = Snapshot::keeping(&["name"], []);
        let first: HashMap<_, _> = [
            ("a".to_string(), json!({"x": 1})),
            ("b".to_string(), json!({"x": 1})),
        ]
        .into();
        assert!(s.replace(first, Instant::now()).is_empty());
        let second: HashMap<_, _> = [
            ("a".to_string(), json!({"x": 2})),
            ("c".to_string(), json!({})),
        ]
        .into();
        let changed = s.replace(second, Instant::now());
        assert_eq!(changed, HashSet::from(["a".to_string(), "b".to_string()]));
        assert_eq!(s.get("c"), Some(json!({})));
    }

    #[test]
    fn the_first_list_reports_changes_to_what_reconciles_read_before_it() {
        let s = Snapshot::keeping(&["name"], []);
        s.upsert("a", json!({"x": 1}));
        let first: HashMap<_, _> = [("a".to_string(), json!({"x": 2}))].into();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(
            s.replace(first, Instant::now()),
            HashSet::from(["a".to_string()])
        );
    }

    #[test]
    fn own_writes_are_not_reported_as_changes() {
        let s = Snapshot::keeping(&["name"], []);
        s.replace([("a".to_string(), json!({"x": 1}))].into(), Instant::now());
        s.upsert("a", json!({"x": 2}));
        let later = Instant::now();
        let same = [("a".to_string(), json!({"x": 2}))].into();
        assert!(s.replace(same, later).is_empty());
    }

    #[test]
    fn a_write_during_the_list_beats_the_list() {
        let s = Snapshot::keeping(&["name"], []);
        s.replace([("a".to_string(), json!({"x": 1}))].into(), Instant::now());
        let listing_started = Instant::now();
        s.upsert("a", json!({"x": 2})); // our PATCH lands while the pages are read
        let stale_page = [("a".to_string(), json!({"x": 1}))].into();
        assert!(
            s.replace(stale_page, listing_started).is_empty(),
            "no false drift"
        );
        assert_eq!(s.get("a"), Some(json!({"x": 2})));
    }

    #[test]
    fn answers_names_only_while_its_list_is_recent() {
        let s = Snapshot::keeping(&["name"], []);
        let minute = Duration::from_secs(60);
        assert_eq!(s.holds_key("a", minute), None, "never listed");
        let page = [("1".to_string(), json!({"name": "a"}))].into();
        s.replace(page, Instant::now());
        assert_eq!(s.holds_key("a", minute), Some(true));
        assert_eq!(s.holds_key("b", minute), Some(false));
        // Our own writes keep the names current: a rename, a create, a delete.
        s.upsert("1", json!({"name": "b"}));
        assert_eq!(s.holds_key("a", minute), Some(false));
        assert_eq!(s.holds_key("b", minute), Some(true));
        s.upsert("2", json!({"name": "c"}));
        assert_eq!(s.holds_key("c", minute), Some(true));
        s.remove("2");
        assert_eq!(s.holds_key("c", minute), Some(false));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(s.holds_key("b", Duration::from_millis(10)), None, "too old");
    }

    #[test]
    fn the_same_object_in_another_key_order_is_no_change() {
        let s = Snapshot::keeping(&["name"], []);
        let a: Value =
            serde_json::from_str(r#"{"pk":"1","name":"a","x":[1,{"b":1,"a":2.5}]}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"x":[1,{"a":2.5,"b":1}],"name":"a","pk":"1"}"#).unwrap();
        s.replace([("1".to_string(), a.clone())].into(), Instant::now());
        assert!(
            s.replace([("1".to_string(), b)].into(), Instant::now())
                .is_empty()
        );
        assert!(s.contains("1") && !s.contains("2"));
        assert_eq!(s.get("1"), Some(a));
    }

    #[test]
    fn keeps_only_the_fields_it_is_told_to() {
        let s = Snapshot::keeping(&["name"], ["order".to_string()]);
        let full = json!({"pk": "1", "name": "a", "order": 2, "flow_set": [{"big": true}]});
        s.upsert("1", full.clone());
        assert_eq!(
            s.get("1"),
            Some(json!({"pk": "1", "name": "a", "order": 2}))
        );
        s.replace([("1".to_string(), full)].into(), Instant::now());
        assert_eq!(
            s.get("1"),
            Some(json!({"pk": "1", "name": "a", "order": 2}))
        );
        // A change to a field no spec can set is no change.
        let other = json!({"pk": "1", "name": "a", "order": 2, "flow_set": []});
        assert!(
            s.replace([("1".to_string(), other)].into(), Instant::now())
                .is_empty()
        );
    }
}
