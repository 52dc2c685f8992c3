//! Whether an authentik answers: failing since when, and the moment it answers again. The
//! moment matters: every resource that waits out its own backoff after an outage is
//! reconciled then, instead of minutes later.

use jiff::Timestamp;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a request or a sweep learnt of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// It answered (any answer about the request itself: 2xx, 400, 404, ...).
    Answered,
    /// It could not serve us: unreachable, 5xx, 429, or our token refused.
    Failing,
}

/// What changed with an observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    None,
    /// The first failure after answering (or at start).
    WentDown,
    /// The first answer after failing: time to retry everything that waited.
    CameBack,
}

#[derive(Debug, Default)]
pub struct Health {
    failing_since: Mutex<Option<Timestamp>>,
    /// A comeback not yet acted upon (see [`Health::take_comeback`]).
    came_back: AtomicBool,
    /// An outage not yet reported (see [`Health::take_went_down`]).
    went_down: AtomicBool,
}

impl Health {
    pub fn observe(&self, seen: Seen, now: Timestamp) -> Transition {
        let mut since = self.failing_since.lock().unwrap_or_else(|e| e.into_inner());
        match (seen, *since) {
            (Seen::Failing, None) => {
                *since = Some(now);
                self.went_down.store(true, Ordering::SeqCst);
                Transition::WentDown
            }
            (Seen::Answered, Some(_)) => {
                *since = None;
                self.came_back.store(true, Ordering::SeqCst);
                Transition::CameBack
            }
            _ => Transition::None,
        }
    }

    /// Whether the server came back since the last call: the first caller to see it (a
    /// reconcile or the sweep) retries what waited on it.
    pub fn take_comeback(&self) -> bool {
        self.came_back.swap(false, Ordering::SeqCst)
    }

    /// Whether an outage started since the last call (reported once).
    pub fn take_went_down(&self) -> bool {
        self.went_down.swap(false, Ordering::SeqCst)
    }

    /// Since when the server has been failing, if it is.
    pub fn failing_since(&self) -> Option<Timestamp> {
        *self.failing_since.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn an_outage_is_dated_by_its_first_failure_and_ends_at_the_first_answer() {
        let h = Health::default();
        assert_eq!(h.observe(Seen::Answered, t(1)), Transition::None);
        assert_eq!(h.observe(Seen::Failing, t(10)), Transition::WentDown);
        assert_eq!(h.observe(Seen::Failing, t(20)), Transition::None);
        assert!(h.take_went_down(), "reported once");
        assert!(!h.take_went_down());
        assert_eq!(h.failing_since(), Some(t(10)), "dated by the first failure");
        assert!(!h.take_comeback());
        assert_eq!(h.observe(Seen::Answered, t(30)), Transition::CameBack);
        assert_eq!(h.failing_since(), None);
        assert_eq!(h.observe(Seen::Answered, t(31)), Transition::None);
        assert!(h.take_comeback(), "acted upon once");
        assert!(!h.take_comeback());
    }
}
