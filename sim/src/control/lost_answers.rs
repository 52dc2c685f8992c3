//! Lost answers: the request is carried out (a create commits, its event is written) and then
//! the connection is dropped before the answer is sent, as when a proxy, the network or the
//! client's timeout cuts a request that the server finished. The client cannot tell this
//! from a request that never arrived.

use serde::{Deserialize, Serialize};

use super::{Control, lock};

/// Drop the answer of API requests whose path (after `/api/v3/`) starts with `route_prefix`
/// and, if set, whose method is `method`, after carrying them out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LostAnswer {
    /// Matched against the path after `/api/v3/`, e.g. `stages/`; `""` matches all.
    pub route_prefix: String,
    /// `None` matches every method (compared case-insensitively).
    pub method: Option<String>,
    /// How many answers are lost; `None` until cleared.
    pub times: Option<u32>,
    /// Probability (0..=1) that a matching request's answer is lost.
    pub rate: f64,
}

impl Default for LostAnswer {
    fn default() -> LostAnswer {
        LostAnswer {
            route_prefix: String::new(),
            method: Some("POST".into()),
            times: Some(1),
            rate: 1.0,
        }
    }
}

impl LostAnswer {
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
}

impl Control {
    /// From now on, lose the answers of matching requests after carrying them out (see
    /// [`LostAnswer`]); tried in the order they were added, after the faults.
    pub fn lose_answers(&self, lost: LostAnswer) {
        if lost.times != Some(0) {
            lock(&self.inner.lost_answers).push(lost);
        }
    }

    pub fn clear_lost_answers(&self) {
        lock(&self.inner.lost_answers).clear();
    }

    /// The lost-answer rules still active.
    pub fn lost_answers(&self) -> Vec<LostAnswer> {
        lock(&self.inner.lost_answers).clone()
    }

    /// Whether this request's answer is to be lost (counting down the rule's `times`).
    pub(crate) fn fire_lost_answer(&self, api_path: &str, method: &str) -> bool {
        let mut rules = lock(&self.inner.lost_answers);
        let Some(i) = rules.iter().position(|r| {
            r.matches(api_path, method) && (r.rate >= 1.0 || fastrand::f64() < r.rate)
        }) else {
            return false;
        };
        if let Some(n) = rules[i].times.as_mut() {
            *n -= 1;
            if *n == 0 {
                rules.remove(i);
            }
        }
        true
    }
}
