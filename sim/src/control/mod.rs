//! The test-only control interface: state reset, down mode, latency, fault injection (and
//! lost answers, `lost_answers.rs`), request log and counters; shortcuts to create, inspect, change and delete objects
//! (`objects.rs`); users, tokens and the event log's switches (`events.rs`).
//!
//! [`Control`] is shared with the HTTP routes under `/_sim/`, so tests can drive a simulator
//! in-process or over HTTP alike.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::capacity::{Capacity, Workers};
use crate::errors::{Reply, ReplyBody};
use crate::events::EventLog;
use crate::out::Out;
use crate::profile::Profile;
use crate::seed;
use crate::state::{State, User};

mod events;
mod lost_answers;
mod objects;

pub use lost_answers::LostAnswer;
pub use objects::ApiReply;

/// At most this many requests are kept in the log (the oldest are dropped).
pub const LOG_CAPACITY: usize = 100_000;

/// An injected failure for API requests whose path (after `/api/v3/`) starts with
/// `route_prefix` and, if set, whose method is `method`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fault {
    /// Matched against the path after `/api/v3/`, e.g. `stages/password/`; `""` matches all.
    pub route_prefix: String,
    /// `None` matches every method (compared case-insensitively).
    pub method: Option<String>,
    /// 500, 502, 503, 429 (or any other status); 0 drops the connection without an answer.
    pub status: u16,
    /// Sent as `Retry-After` (seconds).
    pub retry_after: Option<u64>,
    /// How many requests fail; `None` until cleared.
    pub times: Option<u32>,
    /// Probability (0..=1) that a matching request fails.
    pub rate: f64,
}

impl Default for Fault {
    fn default() -> Fault {
        Fault {
            route_prefix: String::new(),
            method: None,
            status: 500,
            retry_after: None,
            times: None,
            rate: 1.0,
        }
    }
}

impl Fault {
    fn matches(&self, api_path: &str, method: &str) -> bool {
        let prefix = self
            .route_prefix
            .trim_start_matches("/api/v3")
            .trim_start_matches('/');
        api_path.starts_with(prefix)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }

    /// The answer of a fired fault; `None` means "drop the connection".
    pub fn reply(&self) -> Option<Reply> {
        let mut reply = match self.status {
            0 => return None,
            429 => Reply::detail(
                429,
                match self.retry_after {
                    Some(n) => format!("Request was throttled. Expected available in {n} seconds."),
                    None => "Request was throttled.".into(),
                },
            ),
            // authentik's Go front proxy while the backend is not ready.
            503 => Reply::json(503, Out::obj([("error", Out::str("authentik starting"))])),
            502 => Reply {
                status: 502,
                body: ReplyBody::Other("text/plain; charset=utf-8", "Bad Gateway".into()),
                headers: Vec::new(),
            },
            500 => Reply {
                status: 500,
                body: ReplyBody::Html("<h1>Server Error (500)</h1>"),
                headers: Vec::new(),
            },
            other => Reply::detail(other, "Simulated fault."),
        };
        if let Some(n) = self.retry_after {
            reply.headers.push(("retry-after", n.to_string()));
        }
        Some(reply)
    }
}

/// One API request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// The full URL path, e.g. `/api/v3/stages/password/`.
    pub path: String,
    pub query: Option<String>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    /// The answer's status; 0 when the connection was dropped (by a fault, or after the
    /// request was carried out, by a [`LostAnswer`]).
    pub status: u16,
    /// The route template, e.g. `stages/password/{pk}/` (as in [`Control::counters`]).
    pub route: String,
}

/// Shared state of one simulator.
#[derive(Debug)]
pub(crate) struct Inner {
    pub token: String,
    /// Swapped by [`Control::upgrade`], like a server upgraded in place.
    profile: RwLock<Profile>,
    pub seed: bool,
    state: RwLock<State>,
    faults: Mutex<Vec<Fault>>,
    lost_answers: Mutex<Vec<LostAnswer>>,
    latency_us: AtomicU64,
    /// Capacity mode: `None` serves every request at once, in no time.
    workers: RwLock<Option<Arc<Workers>>>,
    down: AtomicBool,
    log: Mutex<VecDeque<RecordedRequest>>,
    counters: Mutex<BTreeMap<String, u64>>,
    events: Mutex<EventLog>,
}

/// Lock helpers that survive a poisoned lock (a panicking test thread must not wedge the
/// simulator for the others).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// In-process access to a simulator's control interface. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Control {
    pub(crate) inner: Arc<Inner>,
}

impl Control {
    pub(crate) fn new(token: String, profile: Profile, seed: bool) -> Control {
        let first = fresh_state(profile, seed, &token);
        let inner = Inner {
            token,
            profile: RwLock::new(profile),
            seed,
            state: RwLock::new(first),
            faults: Mutex::new(Vec::new()),
            lost_answers: Mutex::new(Vec::new()),
            latency_us: AtomicU64::new(0),
            workers: RwLock::new(None),
            down: AtomicBool::new(false),
            log: Mutex::new(VecDeque::new()),
            counters: Mutex::new(BTreeMap::new()),
            events: Mutex::new(EventLog::new()),
        };
        Control {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.inner.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner.state.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn profile(&self) -> Profile {
        *self.inner.profile.read().unwrap_or_else(|e| e.into_inner())
    }

    /// An upgrade (or downgrade) in place: the data is kept, and from now on the API answers
    /// as `profile` does (fields it knows appear with their stored or default values).
    pub fn upgrade(&self, profile: Profile) {
        *self
            .inner
            .profile
            .write()
            .unwrap_or_else(|e| e.into_inner()) = profile;
    }

    /// The API token the simulator accepts.
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// Back to a fresh install (seeded again if configured, with only the configured token);
    /// also clears faults, lost answers, latency, down mode, the request log, the counters and the event
    /// log (and its switches).
    pub fn reset(&self) {
        *self.write() = fresh_state(self.profile(), self.inner.seed, &self.inner.token);
        *lock(&self.inner.events) = EventLog::new();
        self.clear_faults();
        self.clear_lost_answers();
        self.set_latency(Duration::ZERO);
        self.set_down(false);
        self.clear_requests();
        self.clear_counters();
    }

    /// Down mode: connections are still accepted, but every request outside `/_sim/` is
    /// answered by closing the connection without a response (clients see a reset or an
    /// incomplete message). `/_sim/` keeps working so a test can bring it back up.
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    pub fn is_down(&self) -> bool {
        self.inner.down.load(Ordering::SeqCst)
    }

    /// Delay before every API request is handled.
    pub fn set_latency(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.inner.latency_us.store(us, Ordering::SeqCst);
    }

    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.inner.latency_us.load(Ordering::SeqCst))
    }

    /// Capacity mode (see [`Capacity`]): from now on, API requests queue for `workers` and
    /// take their service time; `None` turns it off.
    pub fn set_capacity(&self, capacity: Option<Capacity>) {
        *self
            .inner
            .workers
            .write()
            .unwrap_or_else(|e| e.into_inner()) = capacity.map(Workers::new);
    }

    pub fn capacity(&self) -> Option<Capacity> {
        self.workers().map(|w| w.capacity)
    }

    pub(crate) fn workers(&self) -> Option<Arc<Workers>> {
        self.inner
            .workers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Add a fault; faults are tried in the order they were added.
    pub fn inject_fault(&self, fault: Fault) {
        if fault.times != Some(0) {
            lock(&self.inner.faults).push(fault);
        }
    }

    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// The faults still active.
    pub fn faults(&self) -> Vec<Fault> {
        lock(&self.inner.faults).clone()
    }

    /// The first matching fault that fires for this request (counting down its `times`).
    pub(crate) fn fire_fault(&self, api_path: &str, method: &str) -> Option<Fault> {
        let mut faults = lock(&self.inner.faults);
        let i = faults.iter().position(|f| {
            f.matches(api_path, method) && (f.rate >= 1.0 || fastrand::f64() < f.rate)
        })?;
        let fired = faults[i].clone();
        if let Some(n) = faults[i].times.as_mut() {
            *n -= 1;
            if *n == 0 {
                faults.remove(i);
            }
        }
        Some(fired)
    }

    /// The API requests seen since the last clear, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.log).iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.log).clear();
    }

    pub(crate) fn record(&self, r: RecordedRequest) {
        let mut log = lock(&self.inner.log);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(r);
    }

    /// Requests per `"METHOD route-template"`, e.g. `"PATCH stages/password/{pk}/"`.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        lock(&self.inner.counters).clone()
    }

    pub fn clear_counters(&self) {
        lock(&self.inner.counters).clear();
    }

    pub(crate) fn count(&self, key: String) {
        *lock(&self.inner.counters).entry(key).or_insert(0) += 1;
    }

    pub(crate) fn latency_now(&self) -> Option<Duration> {
        let us = self.inner.latency_us.load(Ordering::Relaxed);
        (us > 0).then(|| Duration::from_micros(us))
    }
}

/// A fresh install: the seed if asked for, and `akadmin` with the configured token.
fn fresh_state(profile: Profile, seed: bool, token: &str) -> State {
    let mut state = State::default();
    if seed {
        seed::seed(&mut state, profile);
    }
    state.users.push(User {
        pk: 3,
        uuid: Uuid::new_v4(),
        username: "akadmin".into(),
        name: "authentik Default Admin".into(),
        email: "akadmin@lab.local".into(),
        token: Some(token.to_string()),
    });
    state.forget_changes();
    state
}
