//! Doing what the plan says: create the object (after the create marker), or bind to it and
//! patch what differs; each ends in a [`Report`].

use super::context::Context;
use super::diff::{Diff, diff, shape};
use super::kube_ops::{Notice, condition_version, has_finalizer};
use super::objects;
use super::plan::{self, Act, Correction, Create};
use super::record::Report;
use super::status::Observation;
use crate::authentik::wire::pk_of;
use crate::connections::Connection;
use crate::connections::snapshot::FLOW_SET;
use crate::crd::kind::{Kind, kind_name};
use crate::crd::{DriftEntry, ManagementPolicy};
use crate::error::{Error, Result};
use crate::metrics::{KindLabels, ResourceLabels};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::{Map, Value};

/// What one sync works on: the resource, what all reconciles share, the resource's
/// authentik, the API of its kind, and the object's key in authentik (once the spec's
/// references resolved: a binding's key holds pks).
pub(super) struct On<'a, K> {
    pub obj: &'a K,
    pub ctx: &'a Context,
    pub conn: &'a Connection,
    pub api: &'a Api<K>,
    pub key: &'a str,
}

pub(super) async fn execute<K: Kind>(
    on: &On<'_, K>,
    desired: &Map<String, Value>,
    act: Act,
    mut obs: Observation,
) -> Report {
    match act {
        Act::Refuse { error, diff } => {
            if let Some(d) = diff {
                obs.drift = d.drift;
                obs.unsupported = d.unsupported;
            }
            Report::failed(obs, error)
        }
        Act::Create(how) => create(on, desired, how, obs).await,
        Act::Bind {
            pk,
            adopted,
            diff,
            write,
        } => bind(on, desired, pk, adopted, diff, write, obs).await,
    }
}

async fn bind<K: Kind>(
    on: &On<'_, K>,
    desired: &Map<String, Value>,
    pk: String,
    adopted: bool,
    found: Diff,
    write: Option<Correction>,
    mut obs: Observation,
) -> Report {
    let key = on.key;
    match hold(on, obs.written_version.clone()).await {
        Ok(written) => obs.written_version = written,
        Err(e) => return Report::failed(obs, e),
    }
    let mut events = Vec::new();
    if adopted {
        let note = format!(
            "adopted the existing authentik {} (pk {pk})",
            K::describe_key(key)
        );
        events.push(Notice::normal("Adopted", note));
    }
    obs.pk = Some(pk.clone());
    obs.bound_to = bound_flows::<K>(on.conn, &pk);
    obs.name = Some(key.to_string());
    // Bound: the key is this object's, even after a create of it was refused.
    obs.name_cleared = false;
    obs.unsupported = found.unsupported;
    obs.drift = found.drift;
    let Some(how) = write else {
        return Report::new(obs, events, Ok(()));
    };
    let refused = &on.conn.refused;
    if let Some(why) = refused.before(K::ENDPOINT, &pk, &found.patch) {
        return Report::new(obs, events, Err(Error::Rejected(why)));
    }
    let updated = match patch::<K>(on.conn, &pk, &found.patch).await {
        Ok(v) => v,
        Err(Error::Rejected(why)) => {
            refused.record(K::ENDPOINT, &pk, &found.patch, &why);
            return Report::new(obs, events, Err(Error::Rejected(why)));
        }
        Err(e) => return Report::new(obs, events, Err(e)),
    };
    obs.wrote = true;
    obs.secrets_sent = K::SECRETS.iter().any(|(_, b)| found.patch.contains_key(*b));
    obs.bound_to = bound_flows::<K>(on.conn, &pk);
    let after = diff(desired, &updated, &shape::<K>());
    if let Some(e) = plan::not_kept(&after) {
        if let Error::Rejected(why) = &e {
            refused.record(K::ENDPOINT, &pk, &found.patch, why);
        }
        obs.drift = after.drift;
        return Report::new(obs, events, Err(e));
    }
    refused.clear(K::ENDPOINT, &pk);
    events.push(corrected(on, how, &obs.drift));
    Report::new(obs, events, Ok(()))
}

/// The finalizer, before the resource owns a stage (Manage mode); the version written, or
/// `written` unchanged. A write earlier in this reconcile (`written`) was the create
/// step's, which put the finalizer there.
async fn hold<K: Kind>(on: &On<'_, K>, written: Option<String>) -> Result<Option<String>> {
    let obj = on.obj;
    let manage = obj.policies().management_policy == ManagementPolicy::Manage;
    if !manage || has_finalizer(obj) || written.is_some() {
        return Ok(written);
    }
    let version = obj.meta().resource_version.as_deref();
    match super::kube_ops::add_finalizer(on.api, obj, version).await? {
        Some(v) => Ok(Some(v)),
        // Deleted meanwhile: nothing to bind.
        None => Err(Error::StaleView),
    }
}

/// What a correction written to authentik tells the user (and, for drift, the metrics).
fn corrected<K: Kind>(on: &On<'_, K>, how: Correction, drift: &[DriftEntry]) -> Notice {
    let fields: Vec<&str> = drift.iter().map(|d| d.field.as_str()).collect();
    let fields = fields.join(", ");
    match how {
        Correction::Updated => Notice::normal(
            "Updated",
            format!(
                "updated {fields} of the authentik {}",
                K::describe_key(on.key)
            ),
        ),
        Correction::DriftCorrected => {
            on.ctx
                .metrics
                .drift_corrections
                .get_or_create(&ResourceLabels {
                    kind: kind_name::<K>().to_string(),
                    resource_namespace: on.obj.namespace().unwrap_or_default(),
                    resource_name: on.obj.name_any(),
                })
                .inc();
            Notice::normal(
                "DriftCorrected",
                format!("corrected {fields} changed in authentik behind our back"),
            )
        }
    }
}

/// One PATCH; the object as authentik stored it.
async fn patch<K: Kind>(conn: &Connection, pk: &str, body: &Map<String, Value>) -> Result<Value> {
    // Gone: deleted between the sweep and now; the next reconcile recreates it.
    objects::patch::<K>(conn, pk, body)
        .await?
        .ok_or_else(|| vanished::<K>(pk))
}

fn kind_labels<K: Kind>() -> KindLabels {
    KindLabels {
        kind: kind_name::<K>().to_string(),
    }
}

async fn create<K: Kind>(
    on: &On<'_, K>,
    desired: &Map<String, Value>,
    how: Create,
    mut obs: Observation,
) -> Report {
    let (obj, conn, key) = (on.obj, on.conn, on.key);
    match prepare_create(on, key, how, obs.written_version.clone()).await {
        Ok(written) => obs.written_version = written,
        Err(e) => return Report::failed(obs, e),
    }
    obs.name = Some(key.to_string());
    obs.pk_cleared = true;
    let body = plan::create_body(desired, &shape::<K>());
    // A refused create is remembered under the key it would have had.
    let new = format!("(new) {key}");
    if let Some(why) = conn.refused.before(K::ENDPOINT, &new, &body) {
        return Report::failed(obs, Error::Rejected(why));
    }
    let created = match objects::create::<K>(conn, &body).await {
        Ok(v) => {
            conn.refused.clear(K::ENDPOINT, &new);
            v
        }
        Err(Error::Rejected(why)) => {
            conn.refused.record(K::ENDPOINT, &new, &body, &why);
            return Report::failed(obs, Error::Rejected(why));
        }
        Err(Error::NameTaken(msg)) => {
            // Not ours: the marker must go, so that this resource never takes (or deletes)
            // the stage holding the name as its own.
            obs.name_cleared = true;
            let version = condition_version(obj, obs.written_version.as_deref());
            match super::kube_ops::unmark_create(on.api, obj, version).await {
                Ok(written) => obs.written_version = written,
                Err(e) => return Report::failed(obs, e),
            }
            if !how.checked {
                // The caller looks at who took the name since the sweep's list.
                return Report::failed(obs, Error::NameTaken(msg));
            }
            let holder = key_taken_by_other_kind(on).await;
            return Report::failed(obs, holder.unwrap_or(Error::Rejected(msg)));
        }
        Err(e) => return Report::failed(obs, e),
    };
    let Some(pk) = pk_of(&created).map(str::to_string) else {
        let e = Error::Protocol(format!(
            "authentik created a {} but returned no pk",
            K::NOUN
        ));
        return Report::failed(obs, e);
    };
    obs.bound_to = bound_flows::<K>(conn, &pk);
    obs.pk = Some(pk.clone());
    obs.wrote = true;
    obs.secrets_sent = true;
    let kept = diff(desired, &created, &shape::<K>());
    obs.unsupported = kept.unsupported.clone();
    let event = if how.recreate {
        on.ctx
            .metrics
            .recreations
            .get_or_create(&kind_labels::<K>())
            .inc();
        let note = format!(
            "the {} was deleted in authentik; created it again (pk {pk})",
            K::describe_key(key)
        );
        Notice::warning("Recreated", note)
    } else {
        let note = format!("created the authentik {} (pk {pk})", K::describe_key(key));
        Notice::normal("Created", note)
    };
    let outcome = match plan::not_kept(&kept) {
        Some(e) => {
            obs.drift = kept.drift;
            Err(e)
        }
        None => Ok(()),
    };
    Report::new(obs, vec![event], outcome)
}

/// The writes a create needs first, each conditioned on the version the one before left
/// (starting from `written`): the finalizer and the create marker in one write, and for a
/// stage created again, the vanished pk out of the status. Returns the version they left.
async fn prepare_create<K: Kind>(
    on: &On<'_, K>,
    name: &str,
    how: Create,
    mut written: Option<String>,
) -> Result<Option<String>> {
    let obj = on.obj;
    if how.mark {
        let version = condition_version(obj, written.as_deref());
        let Some(v) = super::kube_ops::mark_create(on.api, obj, version, name).await? else {
            // Deleted meanwhile: nothing to create for.
            return Err(Error::StaleView);
        };
        written = Some(v);
    }
    if how.clear_pk {
        let mut cleared = obj.status().cloned().unwrap_or_default();
        cleared.name = Some(name.to_string());
        cleared.pk = None;
        let version = condition_version(obj, written.as_deref());
        let status = super::kube_ops::apply_status(on.api, obj, version, &cleared);
        let Some(v) = status.await? else {
            return Err(Error::StaleView);
        };
        written = Some(v);
    }
    Ok(written)
}

/// The slugs of the flows the stage at `pk` is bound to, as last read (stages only).
fn bound_flows<K: Kind>(conn: &Connection, pk: &str) -> Option<Vec<String>> {
    let stage = conn.snapshot::<K>().get(pk)?;
    let flows = stage.get(FLOW_SET)?.as_array()?;
    let mut slugs: Vec<String> = Vec::with_capacity(flows.len());
    // One entry per binding: a stage bound twice in a flow is listed once.
    for slug in flows.iter().filter_map(|f| f.as_str()) {
        if !slugs.iter().any(|s| s == slug) {
            slugs.push(slug.to_string());
        }
    }
    Some(slugs)
}

pub(super) fn vanished<K: Kind>(pk: &str) -> Error {
    Error::NotFound(format!(
        "the {} with pk {pk} vanished from authentik while being updated",
        K::NOUN
    ))
}

/// A clearer message when the key is held by an object of another kind (stage names are
/// unique across the stage kinds); `None` for kinds whose keys are their own.
pub(super) async fn key_taken_by_other_kind<K: Kind>(on: &On<'_, K>) -> Option<Error> {
    if K::KEY_SCOPE == K::ENDPOINT {
        return None;
    }
    let holders = objects::find_by_key::<K>(on.conn, K::KEY_SCOPE, on.key)
        .await
        .ok()?;
    let other = holders.first()?;
    let kind = other
        .get("verbose_name")
        .and_then(Value::as_str)
        .unwrap_or("stage");
    Some(Error::AlreadyExists(format!(
        "the name {:?} is taken in authentik by a {kind} (pk {}); {}",
        on.key,
        pk_of(other).unwrap_or("?"),
        K::UNIQUENESS
    )))
}
