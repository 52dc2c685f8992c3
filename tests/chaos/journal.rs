//! What happened in a run, for its report and for replaying a violation: the faults (when
//! each began and ended), each resource's history (the client's writes, the authentik
//! user's edits, what the checker saw), counters and the violations.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct FaultRecord {
    pub kind: &'static str,
    pub detail: String,
    pub start: f64,
    pub end: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct Violation {
    pub at: f64,
    pub invariant: &'static str,
    pub subject: String,
    pub detail: String,
}

#[derive(Default)]
struct Inner {
    faults: Vec<FaultRecord>,
    history: HashMap<String, Vec<(f64, String)>>,
    counters: BTreeMap<String, u64>,
    violations: Vec<Violation>,
}

pub struct Journal {
    pub seed: u64,
    /// How to run this again (the settings that shape the run).
    pub replay: String,
    started: Instant,
    inner: Mutex<Inner>,
}

impl Journal {
    pub fn new(seed: u64, replay: String) -> Journal {
        Journal {
            seed,
            replay,
            started: Instant::now(),
            inner: Mutex::default(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds since the run started.
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// A line in `subject`'s history (a resource `Kind/name`, `replicas`, `client`, …).
    pub fn note(&self, subject: &str, text: impl Into<String>) {
        let t = self.now();
        self.inner()
            .history
            .entry(subject.to_string())
            .or_default()
            .push((t, text.into()));
    }

    pub fn count(&self, key: impl Into<String>, n: u64) {
        *self.inner().counters.entry(key.into()).or_insert(0) += n;
    }

    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.inner().counters.clone()
    }

    pub fn fault_started(&self, kind: &'static str, detail: impl Into<String>) -> usize {
        let mut inner = self.inner();
        let detail = detail.into();
        let t = self.now();
        inner.faults.push(FaultRecord {
            kind,
            detail: detail.clone(),
            start: t,
            end: None,
        });
        *inner.counters.entry(format!("fault {kind}")).or_insert(0) += 1;
        drop(inner);
        eprintln!("[{t:7.1}s] fault {kind}: {detail}");
        self.inner().faults.len() - 1
    }

    /// The fault is over (what it caused may still be recovering), with what became of it.
    pub fn fault_ended(&self, id: usize, outcome: &str) {
        let t = self.now();
        let mut inner = self.inner();
        if let Some(f) = inner.faults.get_mut(id) {
            f.end = Some(t);
            if !outcome.is_empty() {
                f.detail = format!("{}; {outcome}", f.detail);
            }
        }
    }

    pub fn faults(&self) -> Vec<FaultRecord> {
        self.inner().faults.clone()
    }

    /// When the last fault ended: now while one is still going on; the start without any.
    pub fn last_fault_end(&self) -> f64 {
        let inner = self.inner();
        if inner.faults.iter().any(|f| f.end.is_none()) {
            return self.now();
        }
        inner
            .faults
            .iter()
            .filter_map(|f| f.end)
            .fold(0.0, f64::max)
    }

    /// Records a violation and prints it with what is needed to replay it.
    pub fn violation(&self, invariant: &'static str, subject: &str, detail: impl Into<String>) {
        let v = Violation {
            at: self.now(),
            invariant,
            subject: subject.to_string(),
            detail: detail.into(),
        };
        eprintln!("{}", self.render(&v));
        self.inner().violations.push(v);
    }

    pub fn violations(&self) -> Vec<Violation> {
        self.inner().violations.clone()
    }

    /// A violation with the seed, the fault history and the subject's history.
    pub fn render(&self, v: &Violation) -> String {
        let inner = self.inner();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n==== VIOLATION at {:.1}s: {} — {}\n{}\nseed {} (replay: {})",
            v.at, v.invariant, v.subject, v.detail, self.seed, self.replay
        );
        let _ = writeln!(out, "-- faults:");
        for f in &inner.faults {
            let end = f.end.map_or("…".to_string(), |e| format!("{e:.1}s"));
            let _ = writeln!(out, "  {:7.1}s–{end:>7}  {}: {}", f.start, f.kind, f.detail);
        }
        // The subject's history, and that of each resource its detail names (what it refers to).
        let mut subjects = vec![v.subject.clone()];
        let mut named: Vec<&String> = inner
            .history
            .keys()
            .filter(|k| **k != v.subject)
            .filter(|k| k.split_once('/').is_some_and(|(_, n)| names(&v.detail, n)))
            .collect();
        named.sort();
        subjects.extend(named.into_iter().cloned());
        for subject in subjects {
            let _ = writeln!(out, "-- history of {subject}:");
            for (t, line) in inner.history.get(&subject).into_iter().flatten() {
                let _ = writeln!(out, "  {t:7.1}s  {line}");
            }
        }
        out
    }
}

/// Whether `text` names `name` as a whole (`passwordstage-3` is not in `passwordstage-32`).
fn names(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let after = text[at + name.len()..].chars().next();
        let before = text[..at].chars().next_back();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
        !part(after) && !part(before)
    })
}
