//! The authentik side of a reconcile: find the stage, create or adopt it, correct drift,
//! delete it. Fills an [`Observation`] as it goes, so the status tells what was learnt even
//! when a later step fails.

use super::context::Context;
use super::diff::{Diff, diff};
use super::naming::claim_of;
use super::naming::conflicting;
use super::plan::{self, Correction, FoundByName};
use super::status::Observation;
use crate::authentik::wire::{name_of, pk_of};
use crate::connections::{ConnKey, Connection};
use crate::crd::ManagementPolicy;
use crate::crd::stage::{Stage, desired_body};
use crate::error::{Error, Result};
use crate::metrics::KindLabels;
use kube::ResourceExt;
use kube::api::Api;
use serde_json::{Map, Value};

/// Events worth publishing once the status is written.
#[derive(Debug, Default)]
pub struct Effects {
    pub events: Vec<(bool, &'static str, String)>,
}

impl Effects {
    fn normal(&mut self, reason: &'static str, note: String) {
        self.events.push((false, reason, note));
    }
    fn warning(&mut self, reason: &'static str, note: String) {
        self.events.push((true, reason, note));
    }
}

/// What one sync works on: the resource, what all reconciles share, the resource's
/// authentik, and the API of its kind.
struct On<'a, K> {
    obj: &'a K,
    ctx: &'a Context,
    conn: &'a Connection,
    api: &'a Api<K>,
}

/// Brings authentik in line with `obj` (Manage) or observes it (Observe).
pub async fn sync<K: Stage>(
    obj: &K,
    ctx: &Context,
    conn: &Connection,
    api: &Api<K>,
    obs: &mut Observation,
    fx: &mut Effects,
) -> Result<()> {
    let on = On {
        obj,
        ctx,
        conn,
        api,
    };
    obj.check_spec().map_err(Error::InvalidSpec)?;
    let observe = obj.common().management_policy == ManagementPolicy::Observe;
    obs.observe = observe;
    let name = obj.authentik_name();
    if !observe {
        let me = claim_of(obj);
        let claims = ctx.stores.claims();
        if let Some(winner) = conflicting(&me, &claims) {
            return Err(Error::NameConflict(format!(
                "the authentik stage name {name:?} is already claimed by {}; authentik stage names are unique across all stage kinds",
                winner.describe()
            )));
        }
    }
    let resolved = super::resolve::resolve(obj, ctx, conn).await?;
    obs.resolved = resolved.shown.clone();
    let desired = desired_body(obj, &resolved.body);
    let status = obj.status();
    let connection = ConnKey::of_stage(obj).id();
    obs.connection = Some(connection.clone());
    // A pk from another authentik, or one only observed, is no authority for this write.
    let known_pk = status
        .and_then(|s| s.trusted_pk(&connection, observe))
        .map(str::to_string);

    // 1. The stage we know by pk.
    let mut vanished = false;
    if let Some(pk) = &known_pk {
        match fetch::<K>(conn, pk).await? {
            Some(remote) => {
                obs.pk = Some(pk.clone());
                obs.name = Some(name.clone());
                return correct(&on, &desired, pk, &remote, obs, fx).await;
            }
            None if observe => {
                return Err(Error::NotFound(format!(
                    "the stage with pk {pk} no longer exists in authentik; Observe mode does not recreate it"
                )));
            }
            None => vanished = true,
        }
    }

    // 2. No pk (or the stage vanished): look it up by name before creating anything.
    let found = conn.client.find_by_name(K::ENDPOINT, &name).await?;
    if let Some(remote) = found.into_iter().next() {
        let pk = pk_of(&remote)
            .ok_or_else(|| Error::Protocol("a stage without pk".into()))?
            .to_string();
        conn.snapshot::<K>().upsert(&pk, remote.clone());
        let ours = plan::is_own_create(status, &name);
        if !observe && !ours && lags_behind(api, obj).await? {
            // The informer cache can lag behind our own writes: the create marker or the pk
            // recorded moments ago may not be in `obj` yet, and deciding "foreign" from it
            // would refuse (and forget) our own stage. Decide from the current object.
            return Err(Error::StaleView);
        }
        let d = diff(&desired, &remote, K::SET_FIELDS, K::ALWAYS_SEND);
        match plan::found_by_name(observe, ours, obj.common().adoption_policy, d.in_sync()) {
            FoundByName::Take => {}
            FoundByName::Adopt => fx.normal(
                "Adopted",
                format!("adopted the existing authentik stage {name:?} (pk {pk})"),
            ),
            refused => {
                obs.drift = d.drift;
                obs.unsupported = d.unsupported;
                return Err(if refused == FoundByName::RefuseMismatch {
                    Error::AdoptionMismatch(format!(
                        "a stage named {name:?} already exists in authentik (pk {pk}) and differs from the spec (see status.drift); adoptionPolicy IfMatch leaves it alone"
                    ))
                } else {
                    Error::AlreadyExists(format!(
                        "a stage named {name:?} already exists in authentik (pk {pk}); set adoptionPolicy to IfMatch or Always to take it over"
                    ))
                });
            }
        }
        obs.pk = Some(pk.clone());
        obs.name = Some(name.clone());
        return correct(&on, &desired, &pk, &remote, obs, fx).await;
    }
    if observe {
        return Err(Error::NotFound(format!(
            "no {} named {name:?} in authentik; Observe mode does not create it",
            K::MODEL.rsplit('.').next().unwrap_or("stage")
        )));
    }
    create(&on, &desired, &name, vanished, obs, fx).await
}

/// Whether the API server holds a newer version of `obj` than the one this reconcile reads.
/// Metadata only: the resourceVersion is all this compares.
async fn lags_behind<K: Stage>(api: &Api<K>, obj: &K) -> Result<bool> {
    let current = api.get_metadata_opt(&obj.name_any()).await?;
    Ok(current.is_none_or(|c| c.metadata.resource_version != obj.meta().resource_version))
}

/// The stage by pk: from the sweep's snapshot when it has it, else one GET.
async fn fetch<K: Stage>(conn: &Connection, pk: &str) -> Result<Option<Value>> {
    let snapshot = conn.snapshot::<K>();
    if let Some(v) = snapshot.get(pk) {
        return Ok(Some(v));
    }
    let got = conn.client.get(K::ENDPOINT, pk).await?;
    if let Some(v) = &got {
        snapshot.upsert(pk, v.clone());
    }
    Ok(got)
}

async fn create<K: Stage>(
    on: &On<'_, K>,
    desired: &Map<String, Value>,
    name: &str,
    recreate: bool,
    obs: &mut Observation,
    fx: &mut Effects,
) -> Result<()> {
    let (obj, ctx, conn, api) = (on.obj, on.ctx, on.conn, on.api);
    // Mark the name as ours before the create; see the lookup above.
    let status = obj.status();
    if status.is_none_or(|s| s.pk.is_some() || s.name.as_deref() != Some(name)) {
        let mut marked = status.cloned().unwrap_or_default();
        marked.name = Some(name.to_string());
        marked.pk = None;
        let version = obj.meta().resource_version.as_deref();
        obs.written_version = super::kube_ops::apply_status(api, obj, version, &marked).await?;
    }
    obs.name = Some(name.to_string());
    obs.pk_cleared = true;
    // authentik's create needs the body-validated lists even when the spec leaves one out
    // (an identification stage without `user_fields` fails in the database): send them empty.
    let mut body = desired.clone();
    for key in K::ALWAYS_SEND {
        body.entry(key.to_string())
            .or_insert(Value::Array(Vec::new()));
    }
    let created = match conn.client.create(K::ENDPOINT, &body).await {
        Ok(v) => v,
        Err(Error::NameTaken(msg)) => {
            obs.name_cleared = true;
            return Err(name_taken_by_other_kind(conn, name)
                .await
                .unwrap_or(Error::Rejected(msg)));
        }
        Err(e) => return Err(e),
    };
    let pk = pk_of(&created)
        .ok_or_else(|| Error::Protocol("authentik created a stage but returned no pk".into()))?
        .to_string();
    conn.snapshot::<K>().upsert(&pk, created.clone());
    obs.pk = Some(pk.clone());
    obs.wrote = true;
    let kept = diff(desired, &created, K::SET_FIELDS, &[]);
    obs.unsupported = kept.unsupported.clone();
    let kind = KindLabels {
        kind: crate::crd::stage::kind_name::<K>().to_string(),
    };
    if recreate {
        ctx.metrics.recreations.get_or_create(&kind).inc();
        fx.warning(
            "Recreated",
            format!("the stage {name:?} was deleted in authentik; created it again (pk {pk})"),
        );
    } else {
        fx.normal(
            "Created",
            format!("created the authentik stage {name:?} (pk {pk})"),
        );
    }
    not_kept(kept, obs)
}

/// After a write: fields authentik stored differently from what we sent (it trims strings,
/// lower-cases UUIDs, ...). Writing them again could never converge, so this is an error
/// that waits for a spec change, not a reason to write again.
fn not_kept(after: Diff, obs: &mut Observation) -> Result<()> {
    if after.in_sync() {
        return Ok(());
    }
    let fields: Vec<String> = after
        .drift
        .iter()
        .map(|d| format!("{} (sent {}, stored {})", d.field, d.desired, d.actual))
        .collect();
    obs.drift = after.drift;
    Err(Error::Rejected(format!(
        "authentik stores these fields differently from the spec, so the spec can never match: {}; write them as authentik stores them",
        fields.join("; ")
    )))
}

fn vanished(pk: &str) -> Error {
    Error::NotFound(format!(
        "the stage with pk {pk} vanished from authentik while being updated"
    ))
}

/// A clearer message when the name is held by a stage of another kind.
async fn name_taken_by_other_kind(conn: &Connection, name: &str) -> Option<Error> {
    let holders = conn.client.find_by_name("stages/all/", name).await.ok()?;
    let other = holders.first()?;
    let kind = other
        .get("verbose_name")
        .and_then(Value::as_str)
        .unwrap_or("stage");
    Some(Error::AlreadyExists(format!(
        "the name {name:?} is taken in authentik by a {kind} (pk {}); stage names are unique across all kinds",
        pk_of(other).unwrap_or("?")
    )))
}

/// Compares and, in Manage mode, patches what differs.
async fn correct<K: Stage>(
    on: &On<'_, K>,
    desired: &Map<String, Value>,
    pk: &str,
    remote: &Value,
    obs: &mut Observation,
    fx: &mut Effects,
) -> Result<()> {
    let (obj, ctx, conn) = (on.obj, on.ctx, on.conn);
    let mut d = diff(desired, remote, K::SET_FIELDS, K::ALWAYS_SEND);
    obs.unsupported = d.unsupported.clone();
    obs.drift = d.drift.clone();
    if d.in_sync() || obs.observe {
        return Ok(());
    }
    // The PATCH fills required lists the spec leaves out with authentik's current value; the
    // snapshot may be a resync interval old, so read them fresh rather than undo a change
    // made in authentik's UI meanwhile.
    if K::ALWAYS_SEND.iter().any(|k| !desired.contains_key(*k)) {
        let Some(fresh) = conn.client.get(K::ENDPOINT, pk).await? else {
            conn.snapshot::<K>().remove(pk);
            return Err(vanished(pk));
        };
        conn.snapshot::<K>().upsert(pk, fresh.clone());
        d = diff(desired, &fresh, K::SET_FIELDS, K::ALWAYS_SEND);
        obs.drift = d.drift.clone();
        if d.in_sync() {
            return Ok(());
        }
    }
    let Some(updated) = conn.client.patch(K::ENDPOINT, pk, &d.patch).await? else {
        // Deleted between the sweep and now: the next reconcile recreates it.
        conn.snapshot::<K>().remove(pk);
        return Err(vanished(pk));
    };
    conn.snapshot::<K>().upsert(pk, updated.clone());
    obs.wrote = true;
    not_kept(diff(desired, &updated, K::SET_FIELDS, &[]), obs)?;
    let fields: Vec<&str> = obs.drift.iter().map(|d| d.field.as_str()).collect();
    let observed = obj.status().and_then(|s| s.observed_generation);
    let name = name_of(remote).unwrap_or_default();
    if plan::correction(obj.meta().generation, observed) == Correction::Updated {
        fx.normal(
            "Updated",
            format!(
                "updated {} of the authentik stage {name:?}",
                fields.join(", ")
            ),
        );
    } else {
        ctx.metrics
            .drift_corrections
            .get_or_create(&KindLabels {
                kind: crate::crd::stage::kind_name::<K>().to_string(),
            })
            .inc();
        fx.normal(
            "DriftCorrected",
            format!(
                "corrected {} changed in authentik behind our back",
                fields.join(", ")
            ),
        );
    }
    Ok(())
}
