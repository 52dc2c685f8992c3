//! The invariants, checked on a snapshot of both sides (every resource in the API server,
//! every object of the registered kinds in authentik) every few seconds and at the end:
//! - a resource that exists is Ready for its generation, its object exists with the spec's
//!   values, and exactly one object has its identity;
//! - a deleted resource nothing refers to goes away;
//! - every object of the run's in authentik belongs to a resource (nothing left behind,
//!   nothing created twice).
//!
//! Convergence takes time, and faults delay it: a problem is a violation only when it lasts
//! longer than the bound, counted from when it appeared or from the end of the last fault,
//! whichever is later.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::Shared;
use super::expect::{same, wants};

/// A resource as the API server holds it.
#[derive(Clone, Debug)]
pub struct Res {
    pub kind: &'static str,
    pub name: String,
    pub deleting: bool,
    pub generation: Option<i64>,
    pub spec: Value,
    pub status: Value,
    pub resource_version: String,
}

impl Res {
    pub fn pk(&self) -> Option<String> {
        self.status["pk"].as_str().map(str::to_string)
    }

    pub fn subject(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    fn ready(&self) -> bool {
        self.status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    }

    fn synced_condition(&self) -> Option<&Value> {
        self.status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Synced")
    }

    fn reason(&self) -> &str {
        self.synced_condition().map_or("", |c| text(&c["reason"]))
    }

    fn synced(&self) -> String {
        self.synced_condition().map_or("no status yet".into(), |c| {
            format!("{}: {}", text(&c["reason"]), text(&c["message"]))
        })
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Both sides at one moment (the API server's side read first).
pub struct Snapshot {
    pub resources: BTreeMap<(String, String), Res>,
    /// Each kind's objects in authentik, by kind.
    pub objects: BTreeMap<&'static str, Vec<Value>>,
}

impl Snapshot {
    pub fn object(&self, kind: &str, pk: &str) -> Option<&Value> {
        let pk = pk.to_ascii_lowercase();
        self.objects
            .get(kind)?
            .iter()
            .find(|o| pk_of(o).is_some_and(|p| p == pk))
    }
}

pub fn pk_of(o: &Value) -> Option<String> {
    match &o["pk"] {
        Value::String(s) => Some(s.to_ascii_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub async fn take(shared: &Shared) -> Result<Snapshot, kube::Error> {
    let mut resources = BTreeMap::new();
    for info in &shared.kinds {
        let api: Api<DynamicObject> =
            Api::namespaced_with(shared.env.client.clone(), &shared.env.ns, &info.api);
        for o in api.list(&ListParams::default()).await? {
            let name = o.metadata.name.clone().unwrap_or_default();
            resources.insert(
                (info.kind.to_string(), name.clone()),
                Res {
                    kind: info.kind,
                    name,
                    deleting: o.metadata.deletion_timestamp.is_some(),
                    generation: o.metadata.generation,
                    spec: o.data["spec"].clone(),
                    status: o.data["status"].clone(),
                    resource_version: o.metadata.resource_version.clone().unwrap_or_default(),
                },
            );
        }
    }
    let mut objects = BTreeMap::new();
    for info in &shared.kinds {
        objects.insert(info.kind, list_all(shared, info.endpoint));
    }
    Ok(Snapshot { resources, objects })
}

/// Every object at `endpoint`, in-process (no request log, no faults). Pages are read under
/// separate locks, so the list is read until two reads agree.
pub fn list_all(shared: &Shared, endpoint: &str) -> Vec<Value> {
    let read = || {
        let mut all = Vec::new();
        for page in 1.. {
            let reply = shared.env.sim.control().api(
                "GET",
                &format!("{endpoint}?page={page}&page_size=100"),
                None,
            );
            let body = reply.body;
            all.extend(body["results"].as_array().cloned().unwrap_or_default());
            if body["pagination"]["next"].as_u64().unwrap_or(0) == 0 {
                break;
            }
        }
        all
    };
    let mut last = read();
    for _ in 0..5 {
        let again = read();
        let pks = |v: &[Value]| v.iter().filter_map(pk_of).collect::<BTreeSet<_>>();
        if pks(&again) == pks(&last) {
            return again;
        }
        last = again;
    }
    last
}

/// The resources some other resource refers to by `ref` (a delete of these waits).
fn referenced(shared: &Shared, snap: &Snapshot) -> BTreeSet<(String, String)> {
    snap.resources
        .values()
        .flat_map(|res| shared.kind(res.kind).refs_named(&res.spec))
        .collect()
}

/// What is wrong now, by subject; and how many checks that took.
pub fn problems(shared: &Shared, snap: &Snapshot) -> (BTreeMap<String, String>, u64) {
    let mut found = BTreeMap::new();
    let mut checks = 0;
    let referenced = referenced(shared, snap);
    for (key, res) in &snap.resources {
        checks += 1;
        if res.deleting {
            if !referenced.contains(key) {
                found.insert(
                    res.subject(),
                    "deleted, and still there though nothing refers to it".into(),
                );
            }
            continue;
        }
        checks += 3;
        if let Err(p) = resource_problem(shared, snap, res) {
            found.insert(res.subject(), p);
        }
    }
    for info in &shared.kinds {
        let claimed: BTreeSet<String> = snap
            .resources
            .values()
            .filter(|r| r.kind == info.kind)
            .filter_map(|r| r.pk().map(|p| p.to_ascii_lowercase()))
            .collect();
        for o in &snap.objects[info.kind] {
            let Some(pk) = pk_of(o) else { continue };
            if shared.baseline.contains(&pk) {
                continue;
            }
            checks += 1;
            if !claimed.contains(&pk) {
                let name = o
                    .get("name")
                    .or(o.get("slug"))
                    .map_or(String::new(), |n| n.to_string());
                found.insert(
                    format!("object {}/{pk}", info.kind),
                    format!("in authentik ({name}) and no resource holds it"),
                );
            }
        }
    }
    (found, checks)
}

/// A reference to a resource the client deleted (gone, or going once its object was deleted
/// in authentik) cannot be bound: waiting, naming it, is the promise. So is waiting on a
/// resource that waits so itself, down a chain of references; one link further down, the
/// pk the waiting resource last had may be gone from authentik (ReferenceNotFound).
fn waits_on_leaving(
    shared: &Shared,
    snap: &Snapshot,
    res: &Res,
    seen: &mut BTreeSet<(String, String)>,
) -> bool {
    if res.ready() || !["ReferenceNotReady", "ReferenceNotFound"].contains(&res.reason()) {
        return false;
    }
    shared
        .kind(res.kind)
        .refs_named(&res.spec)
        .into_iter()
        .any(|k| match snap.resources.get(&k) {
            None => true,
            Some(r) if r.deleting => true,
            Some(r) => seen.insert(k.clone()) && waits_on_leaving(shared, snap, r, seen),
        })
}

fn resource_problem(shared: &Shared, snap: &Snapshot, res: &Res) -> Result<(), String> {
    let info = shared.kind(res.kind);
    if !res.ready() {
        if waits_on_leaving(shared, snap, res, &mut BTreeSet::new()) {
            return Ok(());
        }
        return Err(format!("not Ready ({})", res.synced()));
    }
    let observed = res.status["observedGeneration"].as_i64();
    if observed != res.generation {
        return Err(format!(
            "Ready for generation {observed:?}, the spec is at {:?}",
            res.generation
        ));
    }
    let pk = res.pk().ok_or("Ready without a pk")?;
    let object = snap
        .object(res.kind, &pk)
        .ok_or_else(|| format!("Ready, but its object {pk} is not in authentik"))?;
    let wants = wants(info, res, snap, &shared.fixed)?;
    for w in &wants {
        if !same(w, object.get(&w.key)) {
            return Err(format!(
                "{} is {} in authentik, the spec says {}",
                w.key,
                object.get(&w.key).unwrap_or(&Value::Null),
                w.value
            ));
        }
    }
    // Exactly one object has its identity.
    let key: Vec<&super::expect::Want> = wants
        .iter()
        .filter(|w| info.key.contains(&w.key.as_str()))
        .collect();
    let holders = snap.objects[res.kind]
        .iter()
        .filter(|o| key.iter().all(|w| same(w, o.get(&w.key))))
        .count();
    if holders != 1 {
        let identity: Vec<String> = key
            .iter()
            .map(|w| format!("{}={}", w.key, w.value))
            .collect();
        return Err(format!(
            "{holders} objects have its identity {}",
            identity.join(" ")
        ));
    }
    Ok(())
}

struct Open {
    first: f64,
    text: String,
    reported: bool,
}

/// Problems over time: when each appeared, how long each took to go, and which outlasted
/// the bound.
#[derive(Default)]
pub struct Tracker {
    open: HashMap<String, Open>,
    /// The longest a problem lasted after the last fault ended (or after it appeared).
    pub longest: f64,
    pub longest_subject: String,
}

impl Tracker {
    pub fn update(&mut self, shared: &Shared, found: &BTreeMap<String, String>) {
        let journal = &shared.journal;
        let (now, last_fault) = (journal.now(), journal.last_fault_end());
        let bound = shared.cfg.bound.as_secs_f64();
        let gone: Vec<String> = self
            .open
            .keys()
            .filter(|k| !found.contains_key(*k))
            .cloned()
            .collect();
        for subject in gone {
            let open = self.open.remove(&subject).expect("open");
            let took = (now - open.first.max(last_fault)).max(0.0);
            if took > self.longest {
                self.longest = took;
                self.longest_subject = subject.clone();
            }
            journal.note(
                &subject,
                format!("checker: converged ({:.1}s after it appeared, {took:.1}s after the last fault)", now - open.first),
            );
        }
        for (subject, text) in found {
            let open = self.open.entry(subject.clone()).or_insert_with(|| Open {
                first: now,
                text: String::new(),
                reported: false,
            });
            if open.text != *text {
                journal.note(subject, format!("checker: {text}"));
                open.text = text.clone();
            }
            let late = now - open.first.max(last_fault);
            if !open.reported && late > bound {
                open.reported = true;
                let context = super::log_context(shared, subject);
                journal.violation(
                    "converged within the bound after the last fault",
                    subject,
                    format!(
                        "{text}\n(for {:.0}s; {late:.0}s after the last fault ended; bound {bound:.0}s)\n-- operator log lines naming it:\n{context}",
                        now - open.first
                    ),
                );
            }
        }
    }
}
