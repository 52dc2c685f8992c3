//! The decisions of a reconcile, as pure functions. The sync step gathers what the
//! resource, the cache and authentik say into [`Facts`], asks [`plan`] what to do, and does
//! it; deletion asks [`deletion`]. Each is tested below as a behaviour table, with no server.

use super::diff::{Diff, Shape, diff, secrets_to_send};
use crate::crd::kind::ALLOW_GUARDED_ANNOTATION;
use crate::crd::{AdoptionPolicy, DeletionPolicy, ManagementPolicy, StageStatus};
use crate::error::Error;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What authentik holds for the resource, as far as the sync step looked.
#[derive(Clone, Debug, PartialEq)]
pub enum Remote {
    /// The stage at the pk the status trusts. `fresh`: read just now, not taken from the
    /// sweep's snapshot (which may be a resync interval old).
    AtPk {
        pk: String,
        body: Value,
        fresh: bool,
    },
    /// The trusted pk is gone from authentik. Observe mode looks no further.
    Vanished { pk: String },
    /// No trusted pk (or it vanished), and a stage holds the name: read just now.
    Named { pk: String, body: Value },
    /// No trusted pk (or it vanished), and no stage holds the name.
    Absent { after_vanished: bool },
    /// No trusted pk (or it vanished), and the sweep's recent list of the kind holds no
    /// stage of the name: authentik was not asked.
    Unlisted { after_vanished: bool },
    /// No trusted pk (or it vanished), and the sweep's recent list, or our own write since,
    /// holds an object with the key: authentik was not asked yet.
    Listed { after_vanished: bool },
}

/// What the resource itself records of its stage.
#[derive(Clone, Copy, Debug, Default)]
pub struct Record<'a> {
    pub status: Option<&'a StageStatus>,
    /// The `created-name` annotation: the name of the stage the operator creates (or
    /// created), written with the finalizer in one write right before the create.
    pub created_name: Option<&'a str>,
    /// The finalizer is on the resource.
    pub finalized: bool,
}

/// Everything [`plan`] decides from.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub management: ManagementPolicy,
    pub adoption: AdoptionPolicy,
    pub record: Record<'a>,
    pub generation: Option<i64>,
    /// The key in authentik the spec asks for (a stage's name, a flow's slug, a binding's
    /// flow, stage and order).
    pub key: &'a str,
    /// The object with that key, for messages (`stage named "login"`).
    pub what: &'a str,
    pub desired: &'a Map<String, Value>,
    pub shape: Shape,
    /// The resource allows changes of the kind's guarded fields on a live object.
    pub guarded_allowed: bool,
    pub remote: &'a Remote,
    /// A stage found by name may be judged someone else's: the API server confirmed that
    /// the resource version read is its current one (so no create marker of ours is
    /// missing from it), or authentik just refused our create of that name.
    pub view_confirmed: bool,
    /// Hashes of the write-only values the spec's Secrets hold now (spec key → hash); the
    /// values themselves are in `desired`.
    pub secrets: &'a BTreeMap<String, String>,
}

/// What to do next: look again, or act.
#[derive(Debug)]
pub enum Plan {
    Recheck(Recheck),
    Act(Act),
}

/// A read that must come before deciding. Each is asked at most once per reconcile: the
/// facts it yields (`view_confirmed`, a fresh remote) no longer ask for it.
#[derive(Debug, PartialEq, Eq)]
pub enum Recheck {
    /// A stage holds the name and the view of the resource says it is not ours: the view may
    /// lag behind our own create marker. Confirm the view is current, then plan again.
    View,
    /// Read the stage at `pk` afresh, then plan again: the patch would fill the lists
    /// authentik requires from a snapshot that may be older than a change made meanwhile.
    Object { pk: String },
    /// Ask authentik for the stage holding the name, then plan again: the list says none,
    /// but our own create may have made one since (the create marker), or Observe mode is
    /// about to report it missing.
    Name,
}

/// What to do in authentik.
#[derive(Debug)]
pub enum Act {
    Create(Create),
    /// The resource is bound to the stage at `pk`. `diff` is what differs; `write` says
    /// whether to patch it and how the change is reported.
    Bind {
        pk: String,
        adopted: bool,
        diff: Diff,
        write: Option<Correction>,
    },
    /// Leave authentik alone and report `error`; `diff` shows how the stage differs.
    Refuse {
        error: Error,
        diff: Option<Diff>,
    },
}

/// Create the stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Create {
    /// Write the finalizer and the `created-name` marker first (in one write): they are not
    /// both on the resource yet.
    pub mark: bool,
    /// Clear the pk of the vanished stage from the status first, so that a create whose
    /// answer is lost is recognised as ours (the marker counts only without a pk).
    pub clear_pk: bool,
    /// The stage known by the resource's pk vanished: this creates it again.
    pub recreate: bool,
    /// authentik said no stage holds the name; otherwise only the sweep's list did, and a
    /// refused create means someone took the name since.
    pub checked: bool,
}

/// How a correction written to authentik is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    /// The spec changed since the last reconcile: the user's update reached authentik.
    Updated,
    /// The spec did not change: someone changed authentik, and it was put back.
    DriftCorrected,
}

pub fn plan(f: &Facts) -> Plan {
    let observe = f.management == ManagementPolicy::Observe;
    let compare = |body: &Value| diff(f.desired, body, &f.shape);
    let (key, what) = (f.key, f.what);
    match f.remote {
        Remote::AtPk { pk, body, fresh } => bind(f, pk, compare(body), false, *fresh),
        Remote::Vanished { pk } => refuse(
            Error::NotFound(format!(
                "the {what} (pk {pk}) no longer exists in authentik; Observe mode does not recreate it"
            )),
            None,
        ),
        Remote::Named { pk, body, .. } => {
            let ours = is_own_create(f.record, key);
            if !observe && !ours && !f.view_confirmed {
                return Plan::Recheck(Recheck::View);
            }
            let d = compare(body);
            match found_by_name(observe, ours, f.adoption, d.in_sync()) {
                FoundByName::Take => bind(f, pk, d, false, true),
                FoundByName::Adopt => bind(f, pk, d, true, true),
                FoundByName::RefuseMismatch => refuse(
                    Error::AdoptionMismatch(format!(
                        "a {what} already exists in authentik (pk {pk}) and differs from the spec (see status.drift); adoptionPolicy IfMatch leaves it alone"
                    )),
                    Some(d),
                ),
                FoundByName::RefuseExisting => refuse(
                    Error::AlreadyExists(format!(
                        "a {what} already exists in authentik (pk {pk}); set adoptionPolicy to IfMatch or Always to take it over"
                    )),
                    Some(d),
                ),
            }
        }
        Remote::Absent { .. } if observe => refuse(
            Error::NotFound(format!(
                "no {what} in authentik; Observe mode does not create it"
            )),
            None,
        ),
        // Our own create, by the marker, whose pk the view does not show: the view may lag
        // behind the status write that recorded it; confirming that costs authentik nothing.
        Remote::Listed { .. } if !observe && is_own_create(f.record, key) && !f.view_confirmed => {
            Plan::Recheck(Recheck::View)
        }
        Remote::Listed { .. } => Plan::Recheck(Recheck::Name),
        Remote::Unlisted { .. } if observe || is_own_create(f.record, key) => {
            Plan::Recheck(Recheck::Name)
        }
        Remote::Absent { after_vanished } | Remote::Unlisted { after_vanished } => {
            Plan::Act(Act::Create(Create {
                mark: f.record.created_name != Some(key) || !f.record.finalized,
                clear_pk: f.record.status.is_some_and(|s| s.pk.is_some()),
                recreate: *after_vanished,
                checked: matches!(f.remote, Remote::Absent { .. }),
            }))
        }
    }
}

fn refuse(error: Error, diff: Option<Diff>) -> Plan {
    Plan::Act(Act::Refuse { error, diff })
}

fn bind(f: &Facts, pk: &str, mut diff: Diff, adopted: bool, fresh: bool) -> Plan {
    let manage = f.management == ManagementPolicy::Manage;
    let drifted = !diff.in_sync();
    if manage
        && drifted
        && let Some(refusal) = guarded(f, &diff)
    {
        return refuse(refusal, Some(diff));
    }
    // Write-only values cannot be compared: they are sent when their Secret changed.
    let sent = f.record.status.map(|s| &s.sent_secrets);
    let secrets = manage && secrets_to_send(&mut diff, f.desired, &f.shape, f.secrets, sent);
    let write = manage && (drifted || secrets);
    // A PATCH fills the required lists the spec leaves out with authentik's current value.
    let fills_from_remote = f
        .shape
        .always_send
        .iter()
        .any(|k| !f.desired.contains_key(*k));
    if write && fills_from_remote && !fresh {
        return Plan::Recheck(Recheck::Object { pk: pk.to_string() });
    }
    let observed = f.record.status.and_then(|s| s.observed_generation);
    let ready = f.record.status.is_some_and(StageStatus::is_ready);
    // A Secret's new value is the user's update, never drift.
    let how = if drifted {
        correction(f.generation, observed, ready)
    } else {
        Correction::Updated
    };
    Plan::Act(Act::Bind {
        pk: pk.to_string(),
        adopted,
        diff,
        write: write.then_some(how),
    })
}

/// A change of a guarded field (a flow's designation) the resource does not allow: it
/// changes what the live object does, so it waits until the user says so.
fn guarded(f: &Facts, diff: &Diff) -> Option<Error> {
    if f.guarded_allowed {
        return None;
    }
    let fields: Vec<String> = f
        .shape
        .guarded
        .iter()
        .filter(|g| diff.patch.contains_key(**g))
        .map(|g| f.shape.spec_field(g))
        .collect();
    if fields.is_empty() {
        return None;
    }
    Some(Error::ChangeRefused(format!(
        "changing {} of the live {} changes what it does in authentik; annotate this resource with {ALLOW_GUARDED_ANNOTATION}=true to allow it",
        fields.join(", "),
        f.what
    )))
}

/// The body of a create: authentik's create needs the body-validated lists even when the
/// spec leaves one out (an identification stage without `user_fields` fails in the
/// database), so those go empty. Other fields every write carries are left to authentik's
/// defaults on a create.
pub fn create_body(desired: &Map<String, Value>, shape: &Shape) -> Map<String, Value> {
    let mut body = desired.clone();
    for key in shape.always_send {
        if shape.set_fields.contains(key) {
            body.entry(key.to_string())
                .or_insert(Value::Array(Vec::new()));
        }
    }
    body
}

/// After a write: fields authentik stored differently from what was sent (it trims strings,
/// lower-cases UUIDs, ...). Writing them again could never converge, so this is an error
/// that waits for a spec change, not a reason to write again.
pub fn not_kept(after: &Diff) -> Option<Error> {
    if after.in_sync() {
        return None;
    }
    let fields: Vec<String> = after
        .drift
        .iter()
        .map(|d| format!("{} (sent {}, stored {})", d.field, d.desired, d.actual))
        .collect();
    Some(Error::Rejected(format!(
        "authentik stores these fields differently from the spec, so the spec can never match: {}; write them as authentik stores them",
        fields.join("; ")
    )))
}

/// Whether a stage with `name` in authentik is the operator's own create whose answer was
/// lost (a crash, a timeout, an empty 405 after the insert): right before creating, the
/// resource gets the `created-name` annotation (the create marker), and its status holds no
/// pk. A stage that merely shares the name of one we lost (pk still set) is not ours. A
/// status with the name and no pk is the marker of earlier releases, still honoured.
pub fn is_own_create(record: Record, name: &str) -> bool {
    let status = record.status;
    let no_pk = status.is_none_or(|s| s.pk.is_none());
    let marked = record.created_name == Some(name)
        || status.is_some_and(|s| s.name.as_deref() == Some(name));
    no_pk && marked
}

/// The key of an object the resource's create may have made without it learning the pk:
/// the create marker (or the status name of earlier releases) with no pk in the status.
pub fn marked_key(record: Record<'_>) -> Option<&str> {
    let status = record.status;
    if status.is_some_and(|s| s.pk.is_some()) {
        return None;
    }
    record
        .created_name
        .or_else(|| status.and_then(|s| s.name.as_deref()))
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

/// How a write is reported. Drift only when the resource was Ready at this very generation:
/// a spec change whose first attempts failed (a reference not ready yet) records the new
/// generation as observed, and its write is still the user's update.
pub fn correction(generation: Option<i64>, observed: Option<i64>, ready: bool) -> Correction {
    if ready && generation == observed {
        Correction::DriftCorrected
    } else {
        Correction::Updated
    }
}

/// What deleting a resource does to its stage.
#[derive(Debug, PartialEq, Eq)]
pub enum Deletion {
    /// Nothing to delete: no stage of ours (none known, only observed, another authentik).
    Nothing,
    /// Leave the stage in authentik; `pk` says which one, if known.
    Orphan { pk: Option<String> },
    /// Other resources still point at the stage: deleting it would silently clear their
    /// references in authentik. `object` is where the stage is: once it is gone from
    /// authentik (deleted there, its referrers' links with it) there is nothing left to
    /// protect, and the delete goes on.
    Blocked { referrers: Vec<String>, object: At },
    /// Delete the stage at this pk.
    AtPk(String),
    /// The create marker: a create whose answer was lost may have made an object with this
    /// key; delete it if it exists.
    ByKey(String),
}

/// Where the object to delete is.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum At {
    Pk(String),
    /// The create marker's key (the pk was never learnt).
    Key(String),
}

/// What deleting the resource does, from its policies, status and referrers.
pub fn deletion(
    management: ManagementPolicy,
    policy: DeletionPolicy,
    record: Record,
    connection: &str,
    referrers: Vec<String>,
    forced: bool,
) -> Deletion {
    let status = record.status;
    if management == ManagementPolicy::Observe || policy == DeletionPolicy::Orphan {
        return Deletion::Orphan {
            pk: status.and_then(|s| s.pk.clone()),
        };
    }
    // Never delete a stage that was only observed, or one in another authentik than the one
    // this resource now points at.
    let known = status.and_then(|s| s.trusted_pk(connection, false));
    let object = match (known, marked_key(record)) {
        (Some(pk), _) => At::Pk(pk.to_string()),
        (None, Some(key)) => At::Key(key.to_string()),
        (None, None) => return Deletion::Nothing,
    };
    if !referrers.is_empty() && !forced {
        return Deletion::Blocked { referrers, object };
    }
    match object {
        At::Pk(pk) => Deletion::AtPk(pk),
        At::Key(key) => Deletion::ByKey(key),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
