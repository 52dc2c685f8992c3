//! The decisions of a reconcile that need no server, as pure functions: the sync step
//! gathers what authentik and the cache say, asks these, and does what they answer. Each is
//! tested as a behaviour table.

use crate::crd::{AdoptionPolicy, StageStatus};

/// Whether a stage with `name` in authentik is the operator's own create whose answer was
/// lost (a crash, a timeout, an empty 405 after the insert): right before creating, the
/// status gets the name and loses the pk (the create marker). A stage that merely shares the
/// name of one we lost (pk still set) is not ours.
pub fn is_own_create(status: Option<&StageStatus>, name: &str) -> bool {
    status.is_some_and(|s| s.pk.is_none() && s.name.as_deref() == Some(name))
}

/// What to do with the stage found by name, for a resource with no trusted pk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundByName {
    /// Our own create, or Observe mode: take it, without an event.
    Take,
    /// Someone else's, and the adoption policy lets us take it over: take it, and say so.
    Adopt,
    /// Someone else's, adoptionPolicy IfMatch, and it differs from the spec: leave it alone.
    RefuseMismatch,
    /// Someone else's, adoptionPolicy Never: leave it alone.
    RefuseExisting,
}

pub fn found_by_name(
    observe: bool,
    ours: bool,
    policy: AdoptionPolicy,
    in_sync: bool,
) -> FoundByName {
    if observe || ours {
        return FoundByName::Take;
    }
    match policy {
        AdoptionPolicy::Always => FoundByName::Adopt,
        AdoptionPolicy::IfMatch if in_sync => FoundByName::Adopt,
        AdoptionPolicy::IfMatch => FoundByName::RefuseMismatch,
        AdoptionPolicy::Never => FoundByName::RefuseExisting,
    }
}

/// How a correction written to authentik is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    /// The spec changed since the last reconcile: the user's update reached authentik.
    Updated,
    /// The spec did not change: someone changed authentik, and it was put back.
    DriftCorrected,
}

pub fn correction(generation: Option<i64>, observed_generation: Option<i64>) -> Correction {
    if generation == observed_generation {
        Correction::DriftCorrected
    } else {
        Correction::Updated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AdoptionPolicy::{Always, IfMatch, Never};
    use FoundByName::{Adopt, RefuseExisting, RefuseMismatch, Take};

    #[test]
    fn a_stage_found_by_name_behaviour_table() {
        // (observe, ours, policy, in sync) → decision
        let table = [
            // Manage mode, someone else's stage: the policy decides.
            (false, false, Never, false, RefuseExisting),
            (false, false, Never, true, RefuseExisting),
            (false, false, IfMatch, false, RefuseMismatch),
            (false, false, IfMatch, true, Adopt),
            (false, false, Always, false, Adopt),
            (false, false, Always, true, Adopt),
            // Our own create, whatever the policy: taken back silently.
            (false, true, Never, false, Take),
            (false, true, Never, true, Take),
            (false, true, IfMatch, false, Take),
            (false, true, IfMatch, true, Take),
            (false, true, Always, false, Take),
            (false, true, Always, true, Take),
        ];
        for (observe, ours, policy, in_sync, want) in table {
            assert_eq!(
                found_by_name(observe, ours, policy, in_sync),
                want,
                "observe={observe} ours={ours} policy={policy:?} in_sync={in_sync}"
            );
        }
        // Observe mode takes what it finds and never writes, whatever else holds.
        for ours in [false, true] {
            for policy in [Never, IfMatch, Always] {
                for in_sync in [false, true] {
                    assert_eq!(found_by_name(true, ours, policy, in_sync), Take);
                }
            }
        }
    }

    #[test]
    fn the_create_marker_is_a_name_without_a_pk() {
        let status = |name: Option<&str>, pk: Option<&str>| StageStatus {
            name: name.map(str::to_string),
            pk: pk.map(str::to_string),
            ..Default::default()
        };
        assert!(is_own_create(Some(&status(Some("a"), None)), "a"));
        assert!(!is_own_create(Some(&status(Some("a"), Some("pk"))), "a"));
        assert!(!is_own_create(Some(&status(Some("b"), None)), "a"));
        assert!(!is_own_create(Some(&status(None, None)), "a"));
        assert!(!is_own_create(None, "a"));
    }

    #[test]
    fn a_correction_is_an_update_only_when_the_spec_changed() {
        assert_eq!(correction(Some(2), Some(1)), Correction::Updated);
        assert_eq!(correction(Some(1), None), Correction::Updated);
        assert_eq!(correction(Some(2), Some(2)), Correction::DriftCorrected);
    }
}
