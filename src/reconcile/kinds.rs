//! What the operator does per stage kind outside a reconcile — name claims, `ref` lookups,
//! queueing, drift sweeps, readiness, metrics — behind one object-safe trait, so that the
//! rest of the code loops over the registered kinds instead of naming each one (and a kind
//! cannot be half wired). Kinds are registered once, in [`crate::kinds`].

use super::naming::Claim;
use super::naming::{claim_of, named};
use crate::authentik::wire::pk_of;
use crate::caches::{Caches, Queues};
use crate::connections::{ConnKey, Connection};
use crate::crd::kind::Kind;
use crate::crd::kind::kind_name;
use crate::crd::{ManagementPolicy, StageStatus};
use crate::error::Error;
use futures::future::BoxFuture;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;

/// Which resources of a kind to queue for a reconcile.
#[derive(Clone, Copy, Debug)]
pub enum Which<'a> {
    /// Every resource that uses this connection.
    Connection(&'a ConnKey),
    /// Those of this connection whose last reconcile failed because authentik could not serve
    /// it (it answers again: they need not wait out their backoff).
    WaitingOn(&'a ConnKey),
    /// Those that claim this authentik name in this connection (a claim went away).
    Claimants(&'a ConnKey, &'a str),
    /// The one holding the object with this pk in this connection.
    Pk(&'a ConnKey, &'a str),
    /// Those whose references resolved to this pk in this connection (it was deleted:
    /// authentik cleared or dropped the references without logging a change of theirs).
    Referencing(&'a ConnKey, &'a str),
    /// Those that `ref` the resource of this kind, namespace and name (it changed or went).
    ReferringTo(&'a str, &'a str, &'a str),
    /// The resource of this namespace and name, if it is being deleted (its delete may wait
    /// for a resource that changed).
    Leaving(&'a str, &'a str),
}

/// A resource another one refers to by `ref`, as the reference needs it.
pub struct RefTarget {
    pub connection: ConnKey,
    /// Its object's pk, once it has one.
    pub pk: Option<String>,
    /// Being deleted (its delete may be waiting for the referrers).
    pub deleting: bool,
    /// Why it is not Ready (its Ready condition's reason), to name in the referrer's wait:
    /// a chain of waits reads link by link.
    pub not_ready: Option<String>,
}

/// Counts of resources by (kind, `ready` | `not_ready`).
/// Resources by kind, Ready condition (`ready`, `not_ready`) and its reason.
pub type ConditionCounts = HashMap<(&'static str, &'static str, String), i64>;

/// One stage kind, as the rest of the operator sees it.
pub trait KindOps: Send + Sync {
    /// The kind's name (`PasswordStage`).
    fn kind(&self) -> &'static str;
    /// The `app.model_name` authentik reports and logs for the kind's objects.
    fn model(&self) -> &'static str;
    /// Forgets what the sweep's list said of the object `pk`, so that the next reconcile
    /// reads it afresh (the event log says it changed).
    fn forget(&self, conn: &Connection, pk: &str);
    /// Forgets what the sweep's list said of the objects whose references resolved to `pk`
    /// in this connection: authentik cleared those references when it deleted `pk`, and
    /// logs no change of theirs, so what the list said of them is no longer so.
    fn forget_referencing(&self, key: &ConnKey, conn: &Connection, pk: &str);
    /// The name claims of the resources that manage (not merely observe) a stage.
    fn claims_on(&self, name: &str, out: &mut Vec<Claim>);
    /// `Kind/name` of the resources in `namespace` that `ref` the `kind` resource `name`.
    fn referrers(&self, kind: &str, namespace: &str, name: &str, out: &mut Vec<String>);
    /// The resource `namespace/name`, for a `ref` to it. `None`: no such resource.
    fn ref_target(&self, namespace: &str, name: &str) -> Option<RefTarget>;
    /// Queues the matching resources for a reconcile; how many.
    fn queue(&self, which: Which<'_>) -> usize;
    /// One paginated list of the kind in one authentik (also while no resource uses it: the
    /// list is what spares a burst of new resources their lookups); queues every resource of
    /// that connection whose object changed or vanished since the last list.
    fn sweep<'a>(&'a self, key: &'a ConnKey, conn: &'a Connection) -> BoxFuture<'a, ()>;
    /// Adds the kind's resources to `counts`.
    fn count_conditions(&self, counts: &mut ConditionCounts);
    /// Waits until the kind's informer caches hold their first list.
    fn synced(&self) -> BoxFuture<'_, ()>;
}

/// The caches and queues of one kind's controllers.
pub struct KindRuntime<K: Kind> {
    pub caches: Caches<K>,
    pub queues: Queues<K>,
}

impl<K: Kind> KindRuntime<K> {
    /// Queues the resources `pred` chooses; how many.
    fn send_matching(&self, pred: impl Fn(&K) -> bool) -> usize {
        let mut sent = 0;
        for obj in self.caches.state() {
            if pred(obj.as_ref()) {
                self.queues.send(ObjectRef::from_obj(obj.as_ref()));
                sent += 1;
            }
        }
        sent
    }
}

fn synced_reason<K: Kind>(obj: &K) -> Option<&str> {
    obj.status()
        .and_then(|s| s.condition("Synced"))
        .filter(|c| c.status == "False")
        .map(|c| c.reason.as_str())
}

fn waiting_on<K: Kind>(obj: &K, connection: &ConnKey) -> bool {
    &ConnKey::of_stage(obj) == connection
        && obj
            .status()
            .and_then(|s| s.condition("Synced"))
            .is_some_and(|c| c.status == "False" && Error::is_outage_reason(&c.reason))
}

impl<K: Kind> KindOps for KindRuntime<K> {
    fn kind(&self) -> &'static str {
        kind_name::<K>()
    }

    fn model(&self) -> &'static str {
        K::MODEL
    }

    fn forget(&self, conn: &Connection, pk: &str) {
        conn.snapshot::<K>().remove(pk);
    }

    fn forget_referencing(&self, key: &ConnKey, conn: &Connection, pk: &str) {
        let snapshot = conn.snapshot::<K>();
        for obj in self.caches.state() {
            let status = obj.status();
            let refers = status.is_some_and(|s| s.resolved_references.values().any(|v| v == pk));
            if refers
                && &ConnKey::of_stage(obj.as_ref()) == key
                && let Some(theirs) = status.and_then(|s| s.pk.as_deref())
            {
                snapshot.remove(theirs);
            }
        }
    }

    fn claims_on(&self, name: &str, out: &mut Vec<Claim>) {
        for obj in self.caches.state() {
            if named(obj.as_ref(), name)
                && obj.policies().management_policy == ManagementPolicy::Manage
            {
                out.push(claim_of(obj.as_ref()));
            }
        }
    }

    fn referrers(&self, kind: &str, namespace: &str, name: &str, out: &mut Vec<String>) {
        // Only kinds that may name `kind` are walked: each delete asks, and walking every
        // resource of every kind made deleting thousands quadratic.
        if !crate::kinds::referenced_kinds::<K>().contains(&kind) {
            return;
        }
        for obj in self.caches.state() {
            if obj.namespace().as_deref() != Some(namespace)
                || obj.meta().deletion_timestamp.is_some()
            {
                continue;
            }
            let refers = obj
                .references()
                .iter()
                .any(|f| f.refs_to(kind).any(|n| n == name));
            if refers {
                out.push(format!("{}/{}", kind_name::<K>(), obj.name_any()));
            }
        }
    }

    fn ref_target(&self, namespace: &str, name: &str) -> Option<RefTarget> {
        let found = self
            .caches
            .get(&ObjectRef::<K>::new(name).within(namespace))?;
        Some(RefTarget {
            connection: ConnKey::of_stage(found.as_ref()),
            pk: found.status().and_then(|s| s.pk.clone()),
            deleting: found.meta().deletion_timestamp.is_some(),
            not_ready: found
                .status()
                .and_then(|s| s.condition("Ready"))
                .filter(|c| c.status != "True")
                .map(|c| c.reason.clone()),
        })
    }

    fn queue(&self, which: Which<'_>) -> usize {
        match which {
            Which::Connection(key) => self.send_matching(|o| &ConnKey::of_stage(o) == key),
            Which::WaitingOn(key) => self.send_matching(|o| waiting_on(o, key)),
            Which::Claimants(key, name) => {
                self.send_matching(|o| &ConnKey::of_stage(o) == key && o.identity() == name)
            }
            Which::Pk(key, pk) => self.send_matching(|o| {
                &ConnKey::of_stage(o) == key && o.status().and_then(|s| s.pk.as_deref()) == Some(pk)
            }),
            Which::Referencing(key, pk) => self.send_matching(|o| {
                &ConnKey::of_stage(o) == key
                    && o.status()
                        .is_some_and(|s| s.resolved_references.values().any(|v| v == pk))
            }),
            Which::ReferringTo(kind, namespace, name) => {
                if !crate::kinds::referenced_kinds::<K>().contains(&kind) {
                    return 0;
                }
                self.send_matching(|o| {
                    o.namespace().as_deref() == Some(namespace)
                        && o.references()
                            .iter()
                            .any(|f| f.refs_to(kind).any(|n| n == name))
                })
            }
            Which::Leaving(namespace, name) => {
                let at = ObjectRef::new(name).within(namespace);
                match self.caches.get(&at) {
                    Some(o) if o.meta().deletion_timestamp.is_some() => {
                        self.queues.send(at);
                        1
                    }
                    _ => 0,
                }
            }
        }
    }

    fn sweep<'a>(&'a self, key: &'a ConnKey, conn: &'a Connection) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let kind = kind_name::<K>();
            let listed_from = std::time::Instant::now();
            let snapshot = conn.snapshot::<K>();
            // Each object cut down to what the snapshot keeps as its page arrives: every
            // whole body at once was the largest allocation of a sweep.
            let keep = |o: serde_json::Value| Some((pk_of(&o)?.to_string(), snapshot.kept(o)));
            let listed = match conn
                .client
                .list_all_map(K::ENDPOINT, &[], K::ORDERING, keep)
                .await
            {
                Ok(l) => l,
                Err(Error::NotFound(_)) => {
                    if conn.set_supported(K::ENDPOINT, false) {
                        tracing::info!(kind, connection = %key, endpoint = K::ENDPOINT, "this authentik has no endpoint for the kind (an older release): its resources wait for an upgrade");
                    }
                    return;
                }
                Err(e) if e.is_outage() => {
                    // Logged once per outage, not per sweep (Context::retry_if_back).
                    tracing::debug!(kind, connection = %key, error = %e, "drift sweep failed; next attempt at the next interval");
                    return;
                }
                Err(e) => {
                    tracing::warn!(kind, connection = %key, error = %e, "drift sweep failed; next attempt at the next interval");
                    return;
                }
            };
            // Served again (an upgrade): the resources that waited for it go now.
            let served_again = conn.set_supported(K::ENDPOINT, true);
            let changed = snapshot.replace_kept(listed.into_iter().collect(), listed_from);
            self.send_matching(|obj| {
                let pk = obj.status().and_then(|s| s.pk.as_deref());
                let gone = pk.is_some_and(|pk| !snapshot.contains(pk));
                // Write-only values cannot be seen in the list: their Secrets are read
                // again (a change is sent) every interval, besides the Secret watch.
                let secrets = !K::SECRETS.is_empty();
                let waited = served_again && synced_reason(obj) == Some("UnsupportedKind");
                &ConnKey::of_stage(obj) == key
                    && (gone || secrets || waited || pk.is_some_and(|pk| changed.contains(pk)))
            });
        })
    }

    fn count_conditions(&self, counts: &mut ConditionCounts) {
        let kind = kind_name::<K>();
        for obj in self.caches.state() {
            let status = obj.status();
            let condition = if status.is_some_and(StageStatus::is_ready) {
                "ready"
            } else {
                "not_ready"
            };
            let reason = status
                .and_then(|s| s.condition("Ready"))
                .map_or("Pending", |c| c.reason.as_str());
            *counts
                .entry((kind, condition, reason.to_string()))
                .or_default() += 1;
        }
    }

    fn synced(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.caches.synced())
    }
}
