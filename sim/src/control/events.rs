//! Users and their tokens, and the event log's switches.

use std::sync::MutexGuard;
use std::time::SystemTime;

use serde_json::Value;
use uuid::Uuid;

use super::{Control, lock};
use crate::events::{EventLog, RequestInfo};
use crate::profile::Profile;
use crate::state::{Change, User};

impl Control {
    /// Accept `token` as the token of `username` (a new user unless one has that name).
    /// Returns the user's pk. Changes made with the token show that user in the event log.
    pub fn add_token(&self, username: &str, token: &str) -> i64 {
        let mut state = self.write();
        if let Some(u) = state.users.iter_mut().find(|u| u.username == username) {
            u.token = Some(token.to_string());
            return u.pk;
        }
        let pk = state.users.iter().map(|u| u.pk).max().unwrap_or(0) + 1;
        state.users.push(User {
            pk,
            uuid: Uuid::new_v4(),
            username: username.to_string(),
            name: username.to_string(),
            email: format!("{username}@lab.local"),
            token: Some(token.to_string()),
        });
        pk
    }

    /// The user a token authenticates as.
    pub(crate) fn user_of_token(&self, token: &str) -> Option<User> {
        self.read()
            .users
            .iter()
            .find(|u| u.token.as_deref() == Some(token))
            .cloned()
    }

    /// A token of `username` (one is made for a user who has none, or a new user).
    pub(crate) fn token_of(&self, username: &str) -> String {
        let existing = self
            .read()
            .users
            .iter()
            .find(|u| u.username == username)
            .and_then(|u| u.token.clone());
        existing.unwrap_or_else(|| {
            let token = format!("sim-{}", Uuid::new_v4().simple());
            self.add_token(username, &token);
            token
        })
    }

    pub(crate) fn record_changes(&self, changes: Vec<Change>, req: &RequestInfo, p: Profile) {
        lock(&self.inner.events).record(changes, req, p);
    }

    pub(crate) fn event_log(&self) -> MutexGuard<'_, EventLog> {
        lock(&self.inner.events)
    }

    /// Stop (`false`) or resume (`true`) recording events: changes made meanwhile leave no
    /// event, as when authentik's event writes fail.
    pub fn set_event_recording(&self, on: bool) {
        lock(&self.inner.events).paused = !on;
    }

    /// Delete the events created before `before`, or all of them (retention, or an admin
    /// cleaning the log). Returns how many went.
    pub fn expire_events(&self, before: Option<SystemTime>) -> usize {
        lock(&self.inner.events).expire(before)
    }

    /// Make `/events/events/` answer 403 (a token without the right to read events).
    pub fn set_events_forbidden(&self, forbidden: bool) {
        lock(&self.inner.events).forbidden = forbidden;
    }

    /// The events as `/events/events/` renders them, newest first.
    pub fn events(&self) -> Vec<Value> {
        let profile = self.profile();
        let log = lock(&self.inner.events);
        log.events
            .iter()
            .rev()
            .map(|e| log.render(e, profile).to_value())
            .collect()
    }
}
