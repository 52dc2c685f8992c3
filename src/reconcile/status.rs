//! Computing the next status from the previous one and what this reconcile found. Pure, so
//! the rules (when conditions flip, what keeps its timestamp) are unit-tested without servers.

use crate::crd::{DriftEntry, StageStatus};
use crate::error::Error;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use std::collections::BTreeMap;

/// What a reconcile learnt, whatever its outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub pk: Option<String>,
    pub name: Option<String>,
    pub drift: Vec<DriftEntry>,
    pub unsupported: Vec<String>,
    pub resolved: BTreeMap<String, String>,
    /// A write (create, patch) reached authentik in this reconcile.
    pub wrote: bool,
    /// Observe mode: drift is reported, never corrected.
    pub observe: bool,
    /// The stage known by the previous pk is gone and a create was attempted: the old pk
    /// must not come back into status (see the create marker in `sync`).
    pub pk_cleared: bool,
    /// The create was refused because another stage holds the name: the create marker must
    /// go, so that deleting this resource never deletes that stage.
    pub name_cleared: bool,
    /// The connection id the stage lives in (see `StageStatus::connection`).
    pub connection: Option<String>,
    /// The resourceVersion our own status write (the create marker) left, on which the
    /// final status write is conditioned.
    pub written_version: Option<String>,
    /// While authentik fails: since when, and when the next attempt comes (added to the
    /// `Synced` message).
    pub waiting: Option<String>,
    /// The flows the stage is bound to, when this reconcile read it (see
    /// `StageStatus::bound_to`).
    pub bound_to: Option<Vec<String>>,
    /// Hashes of the write-only values the spec's Secrets hold now.
    pub secrets_now: BTreeMap<String, String>,
    /// A create or PATCH that carried them reached authentik: `secrets_now` is what was sent.
    pub secrets_sent: bool,
}

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";

/// The next status. `outcome` is the reconcile's error, if it failed.
pub fn next_status(
    prev: Option<&StageStatus>,
    generation: Option<i64>,
    obs: &Observation,
    outcome: Option<&Error>,
    now: &Time,
) -> StageStatus {
    let empty = StageStatus::default();
    let prev = prev.unwrap_or(&empty);
    let (ready, synced) = verdict(prev, generation, obs, outcome);
    let conditions = vec![
        carry_over(prev.condition(READY), ready, generation, now),
        carry_over(prev.condition(SYNCED), synced, generation, now),
    ];
    let became_ready =
        outcome.is_none() && !prev.is_ready() && (!obs.observe || obs.drift.is_empty());
    let last_sync_time = if outcome.is_none() && (obs.wrote || became_ready) {
        Some(now.clone())
    } else {
        prev.last_sync_time.clone()
    };
    // Drift is worth showing when it is not being corrected: Observe mode, or a failure.
    let drift = if obs.observe || outcome.is_some() {
        obs.drift.clone()
    } else {
        Vec::new()
    };
    let observed_only = if obs.pk.is_some() {
        obs.observe
    } else {
        prev.observed_only
    };
    StageStatus {
        connection: obs.connection.clone().or_else(|| prev.connection.clone()),
        observed_only,
        pk: if obs.pk_cleared {
            obs.pk.clone()
        } else {
            obs.pk.clone().or_else(|| prev.pk.clone())
        },
        name: if obs.name_cleared {
            None
        } else {
            obs.name.clone().or_else(|| prev.name.clone())
        },
        observed_generation: generation,
        conditions,
        last_sync_time,
        drift,
        // A failure before the comparison learnt nothing new about them: keep what we knew, so
        // the warning about them is not published again on recovery.
        unsupported_fields: if outcome.is_some() && obs.unsupported.is_empty() {
            prev.unsupported_fields.clone()
        } else {
            obs.unsupported.clone()
        },
        resolved_references: if obs.resolved.is_empty() && outcome.is_some() {
            prev.resolved_references.clone()
        } else {
            obs.resolved.clone()
        },
        bound_to: obs
            .bound_to
            .clone()
            .unwrap_or_else(|| prev.bound_to.clone()),
        sent_secrets: if obs.secrets_sent {
            obs.secrets_now.clone()
        } else {
            prev.sent_secrets.clone()
        },
    }
}

/// The `Ready` and `Synced` conditions this reconcile earns, before timestamps carry over.
fn verdict(
    prev: &StageStatus,
    generation: Option<i64>,
    obs: &Observation,
    outcome: Option<&Error>,
) -> (Condition, Condition) {
    match outcome {
        None if obs.observe && !obs.drift.is_empty() => (
            cond(READY, false, "Drifted", &drift_message(&obs.drift)),
            cond(
                SYNCED,
                true,
                "Observed",
                "observed the stage in authentik (Observe mode writes nothing)",
            ),
        ),
        None if obs.observe => (
            cond(
                READY,
                true,
                "InSync",
                "the stage in authentik matches the spec",
            ),
            cond(
                SYNCED,
                true,
                "Observed",
                "observed the stage in authentik (Observe mode writes nothing)",
            ),
        ),
        None => (
            cond(
                READY,
                true,
                "InSync",
                "the stage in authentik matches the spec",
            ),
            cond(
                SYNCED,
                true,
                "ReconcileSuccess",
                "authentik is in line with the spec",
            ),
        ),
        Some(err) => {
            let message = match &obs.waiting {
                Some(note) => format!("{err}; {note}"),
                None => err.to_string(),
            };
            let synced = cond(SYNCED, false, err.reason(), &message);
            // While authentik cannot be asked, what we last knew still stands for the same spec.
            let unknowable = matches!(
                err,
                Error::Unreachable(_) | Error::Server { .. } | Error::Kube(_)
            );
            let same_spec = prev.observed_generation == generation;
            let ready = match prev.condition(READY) {
                Some(r) if unknowable && same_spec => r.clone(),
                _ => cond(READY, false, err.reason(), &err.to_string()),
            };
            (ready, synced)
        }
    }
}

pub fn cond(type_: &str, ok: bool, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.chars().take(1024).collect(),
        observed_generation: None,
        last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
    }
}

/// Keeps `lastTransitionTime` unless the condition's status flips.
pub fn carry_over(
    prev: Option<&Condition>,
    mut next: Condition,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    next.observed_generation = generation;
    next.last_transition_time = match prev {
        Some(p) if p.status == next.status => p.last_transition_time.clone(),
        _ => now.clone(),
    };
    next
}

fn drift_message(drift: &[DriftEntry]) -> String {
    let fields: Vec<&str> = drift.iter().map(|d| d.field.as_str()).collect();
    format!("authentik differs from the spec in: {}", fields.join(", "))
}

/// Whether writing `next` would change anything (status writes that change nothing wake the
/// watch and make a hot loop).
pub fn changed(prev: Option<&StageStatus>, next: &StageStatus) -> bool {
    prev != Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    fn ok_obs() -> Observation {
        Observation {
            pk: Some("pk1".into()),
            name: Some("n".into()),
            ..Default::default()
        }
    }

    #[test]
    fn success_sets_ready_and_synced() {
        let s = next_status(None, Some(1), &ok_obs(), None, &t(10));
        assert!(s.is_ready());
        assert_eq!(s.condition(SYNCED).unwrap().status, "True");
        assert_eq!(s.pk.as_deref(), Some("pk1"));
        assert_eq!(s.observed_generation, Some(1));
        assert_eq!(s.condition(READY).unwrap().observed_generation, Some(1));
        assert_eq!(s.last_sync_time, Some(t(10)));
    }

    #[test]
    fn a_second_identical_pass_changes_nothing() {
        let first = next_status(None, Some(1), &ok_obs(), None, &t(10));
        let second = next_status(Some(&first), Some(1), &ok_obs(), None, &t(99));
        assert!(!changed(Some(&first), &second), "{first:?} vs {second:?}");
    }

    #[test]
    fn transition_time_moves_only_on_flip() {
        let first = next_status(None, Some(1), &ok_obs(), None, &t(10));
        let err = Error::Rejected("x".into());
        let failed = next_status(Some(&first), Some(2), &ok_obs(), Some(&err), &t(20));
        assert_eq!(failed.condition(READY).unwrap().last_transition_time, t(20));
        assert_eq!(
            failed.condition(SYNCED).unwrap().reason,
            "AuthentikRejected"
        );
        let again = next_status(Some(&failed), Some(2), &ok_obs(), Some(&err), &t(30));
        assert_eq!(again.condition(READY).unwrap().last_transition_time, t(20));
    }

    #[test]
    fn unreachable_keeps_ready_for_the_same_spec_only() {
        let first = next_status(None, Some(1), &ok_obs(), None, &t(10));
        let down = Error::Unreachable("refused".into());
        let s = next_status(Some(&first), Some(1), &ok_obs(), Some(&down), &t(20));
        assert!(s.is_ready());
        assert_eq!(s.condition(SYNCED).unwrap().reason, "AuthentikUnreachable");
        let changed_spec = next_status(Some(&first), Some(2), &ok_obs(), Some(&down), &t(20));
        assert!(!changed_spec.is_ready());
    }

    #[test]
    fn observe_mode_reports_drift() {
        let obs = Observation {
            observe: true,
            drift: vec![DriftEntry {
                field: "backends".into(),
                desired: "[]".into(),
                actual: "[1]".into(),
            }],
            ..ok_obs()
        };
        let s = next_status(None, Some(1), &obs, None, &t(1));
        assert!(!s.is_ready());
        assert_eq!(s.condition(READY).unwrap().reason, "Drifted");
        assert_eq!(s.condition(SYNCED).unwrap().status, "True");
        assert_eq!(s.drift.len(), 1);
    }

    #[test]
    fn a_cleared_pk_does_not_come_back_on_failure() {
        let first = next_status(None, Some(1), &ok_obs(), None, &t(1));
        let obs = Observation {
            pk: None,
            pk_cleared: true,
            ..ok_obs()
        };
        let err = Error::Server {
            status: 405,
            message: "x".into(),
            retry_after: None,
        };
        let s = next_status(Some(&first), Some(1), &obs, Some(&err), &t(2));
        assert_eq!(s.pk, None);
        assert_eq!(s.name.as_deref(), Some("n"));
        let kept = next_status(
            Some(&first),
            Some(1),
            &Observation {
                pk: None,
                ..ok_obs()
            },
            Some(&err),
            &t(2),
        );
        assert_eq!(kept.pk.as_deref(), Some("pk1"));
    }

    #[test]
    fn manage_mode_clears_drift_after_correction() {
        let obs = Observation {
            wrote: true,
            drift: vec![DriftEntry {
                field: "backends".into(),
                desired: "[]".into(),
                actual: "[1]".into(),
            }],
            ..ok_obs()
        };
        let s = next_status(None, Some(1), &obs, None, &t(1));
        assert!(s.drift.is_empty());
        assert!(s.is_ready());
    }
}
