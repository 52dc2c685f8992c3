//! The operator's own recent writes to one authentik, so that the event follower does not
//! echo them back into reconciles. An event is recognised as ours by what we wrote (the
//! object, the action, at about that time) and by how the log names the token's user, never
//! by the user alone: a person using the operator's account must still be corrected. Each
//! write matches one event at most.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after our write its event may arrive (polls are seconds apart; authentik may be
/// slow to answer).
const WINDOW: Duration = Duration::from_secs(120);
/// A bound on what is remembered during a burst of writes.
const CAPACITY: usize = 200_000;

/// What the follower reads as an event's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Created,
    Updated,
    Deleted,
}

impl Write {
    /// The event action (`model_created`, …) this write is logged as.
    pub fn action(self) -> &'static str {
        match self {
            Write::Created => "model_created",
            Write::Updated => "model_updated",
            Write::Deleted => "model_deleted",
        }
    }
}

#[derive(Default)]
pub struct OwnWrites {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    recent: VecDeque<(&'static str, String, Write, Instant)>,
    /// How the log names the token's user, learnt from the first event of one of our writes
    /// (a name, or `AnonymousUser` where a release logs token writes so).
    me: Option<String>,
}

impl OwnWrites {
    /// Records a write of ours to the object `pk` of model `model`.
    pub fn record(&self, model: &'static str, pk: &str, write: Write) {
        self.record_at(model, pk, write, Instant::now());
    }

    fn record_at(&self, model: &'static str, pk: &str, write: Write, at: Instant) {
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while i
            .recent
            .front()
            .is_some_and(|(.., t)| at.saturating_duration_since(*t) > WINDOW)
            || i.recent.len() >= CAPACITY
        {
            i.recent.pop_front();
        }
        i.recent.push_back((model, pk.to_string(), write, at));
    }

    /// Records a create of ours of the object `name`, before it is sent: its event may be
    /// read before the answer (with the pk) comes back.
    pub fn record_create(&self, model: &'static str, name: &str) {
        self.record(model, &format!("name:{name}"), Write::Created);
    }

    /// Whether the event (model, object pk and name, action, by `username`) is the echo of
    /// one of our writes; if so, that write is used up.
    pub fn is_echo(&self, model: &str, pk: &str, name: &str, action: &str, username: &str) -> bool {
        self.is_echo_at(model, pk, name, action, username, Instant::now())
    }

    fn is_echo_at(
        &self,
        model: &str,
        pk: &str,
        name: &str,
        action: &str,
        username: &str,
        now: Instant,
    ) -> bool {
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if i.me.as_deref().is_some_and(|me| me != username) {
            return false;
        }
        let by_name = format!("name:{name}");
        let found = i.recent.iter().position(|(m, p, w, t)| {
            *m == model
                && (p == pk || (*w == Write::Created && *p == by_name))
                && w.action() == action
                && now.saturating_duration_since(*t) <= WINDOW
        });
        match found {
            Some(at) => {
                i.recent.remove(at);
                i.me.get_or_insert_with(|| username.to_string());
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "authentik_stages_password.passwordstage";

    #[test]
    fn each_write_of_ours_matches_one_event() {
        let w = OwnWrites::default();
        w.record(PW, "p1", Write::Updated);
        assert!(
            !w.is_echo(PW, "p1", "n", "model_deleted", "akadmin"),
            "another action"
        );
        assert!(
            !w.is_echo(PW, "p2", "n", "model_updated", "akadmin"),
            "another object"
        );
        assert!(w.is_echo(PW, "p1", "n", "model_updated", "akadmin"));
        // A second change of the same object, even by the same account, is someone else's.
        assert!(!w.is_echo(PW, "p1", "n", "model_updated", "akadmin"));
    }

    #[test]
    fn the_tokens_user_is_learnt_and_another_users_change_is_never_ours() {
        let w = OwnWrites::default();
        w.record(PW, "p1", Write::Updated);
        w.record(PW, "p2", Write::Updated);
        assert!(w.is_echo(PW, "p1", "n", "model_updated", "AnonymousUser"));
        assert!(!w.is_echo(PW, "p2", "n", "model_updated", "alice"));
        assert!(w.is_echo(PW, "p2", "n", "model_updated", "AnonymousUser"));
    }

    #[test]
    fn a_create_is_recognised_by_its_name_before_its_answer_came() {
        let w = OwnWrites::default();
        w.record_create(PW, "login");
        assert!(!w.is_echo(PW, "p9", "other", "model_created", "akadmin"));
        assert!(w.is_echo(PW, "p9", "login", "model_created", "akadmin"));
        // Its answer, recorded by pk, matches one event more at most.
        w.record(PW, "p9", Write::Created);
        assert!(w.is_echo(PW, "p9", "login", "model_created", "akadmin"));
        assert!(!w.is_echo(PW, "p9", "login", "model_created", "akadmin"));
    }

    #[test]
    fn an_event_long_after_our_write_is_not_ours() {
        let w = OwnWrites::default();
        let then = Instant::now();
        w.record_at(PW, "p1", Write::Created, then);
        let later = then + WINDOW + Duration::from_secs(1);
        assert!(!w.is_echo_at(PW, "p1", "n", "model_created", "akadmin", later));
    }
}
