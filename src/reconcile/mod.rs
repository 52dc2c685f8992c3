//! The one generic reconciler for every stage kind:
//! finalizer → references → desired body → diff → apply → status (patched only when changed)
//! → events (on transitions only).

pub mod connection;
pub mod context;
pub mod diff;
pub mod kinds;
pub mod kube_ops;
pub mod naming;
pub mod plan;
pub mod resolve;
pub mod status;
pub mod sync;

pub use context::{Context, Settings, Stores};

use crate::connections::ConnKey;
use crate::crd::stage::Stage;
use crate::crd::{DeletionPolicy, ManagementPolicy};
use crate::error::{Error, Result};
use crate::metrics::{ErrorLabels, KindLabels};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube_ops::{FORCE_DELETE_ANNOTATION, api_for, apply_status, has_finalizer, publish};
use status::{Observation, SYNCED, changed, next_status};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;
use sync::Effects;

/// Deletes the resource's stage in authentik; returns the pk deleted, if any. The stage is
/// the one in status, or, in the create-marker state (name written, no pk), the one a create
/// whose answer was lost may have made.
async fn delete_stage<K: Stage>(obj: &K, ctx: &Context, name: &str) -> Result<Option<String>> {
    let status = obj.status();
    let marker = status.is_some_and(|s| s.pk.is_none() && s.name.as_deref() == Some(name));
    // Never delete a stage that was only observed, or one in another authentik than the one
    // this resource now points at.
    let known = status
        .and_then(|s| s.trusted_pk(&ConnKey::of_stage(obj).id(), false))
        .map(str::to_string);
    if known.is_none() && !marker {
        return Ok(None);
    }
    let forced = obj
        .annotations()
        .get(FORCE_DELETE_ANNOTATION)
        .is_some_and(|v| v == "true");
    let referrers = ctx.stores.referrers(
        crate::crd::stage::kind_name::<K>(),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    );
    if !referrers.is_empty() && !forced {
        return Err(Error::DeleteBlocked(format!(
            "still referenced by {}; authentik would silently clear those references. Delete or change them first, or annotate this resource with {FORCE_DELETE_ANNOTATION}=true",
            referrers.join(", ")
        )));
    }
    let (_, conn) = ctx.connections.for_stage(obj).map_err(|e| {
        Error::ConnectionNotReady(format!(
            "cannot delete the stage: {e}. Fix the connection, or set deletionPolicy to Orphan to let go"
        ))
    })?;
    let pk = match known {
        Some(pk) => pk,
        None => match conn.client.find_by_name(K::ENDPOINT, name).await?.first() {
            Some(found) => crate::authentik::wire::pk_of(found)
                .unwrap_or_default()
                .to_string(),
            None => return Ok(None),
        },
    };
    conn.client.delete(K::ENDPOINT, &pk).await?;
    conn.snapshot::<K>().remove(&pk);
    Ok(Some(pk))
}

/// Entry point the controllers call.
pub async fn reconcile<K: Stage>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let kind = crate::crd::stage::kind_name::<K>();
    let started = Instant::now();
    let result = if obj.meta().deletion_timestamp.is_some() {
        cleanup(obj.as_ref(), &ctx).await
    } else {
        apply(obj.as_ref(), &ctx).await
    };
    let labels = KindLabels {
        kind: kind.to_string(),
    };
    ctx.metrics.reconciles.get_or_create(&labels).inc();
    ctx.metrics
        .reconcile_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    if let Err(e) = &result {
        ctx.metrics
            .reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: kind.to_string(),
                reason: e.metric_label().to_string(),
            })
            .inc();
        // Every attempt, at debug: the failure itself is logged (and published) once, when it
        // starts or changes (see `write_status`).
        tracing::debug!(kind, namespace = obj.namespace().unwrap_or_default(), name = obj.name_any(), error = %e, "reconcile failed");
    } else {
        ctx.reset_backoff(&key(obj.as_ref()));
    }
    result
}

/// What the controller does after a failed reconcile: exponential backoff per object for
/// errors that may pass; nothing for those that need a spec change (no hot loop).
pub fn error_policy<K: Stage>(obj: Arc<K>, err: &Error, ctx: Arc<Context>) -> Action {
    if !err.is_transient() {
        ctx.reset_backoff(&key(obj.as_ref()));
        return Action::await_change();
    }
    let delay = ctx.next_backoff(&key(obj.as_ref()));
    Action::requeue(err.retry_after().map_or(delay, |ra| ra.max(delay)))
}

fn key<K: Stage>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        crate::crd::stage::kind_name::<K>(),
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// How many times a reconcile starts again from a fresh read when its view turns out stale.
const MAX_VIEWS: usize = 3;

async fn apply<K: Stage>(obj: &K, ctx: &Context) -> Result<Action> {
    let api = api_for(&ctx.kube, obj);
    let mut view = Cow::Borrowed(obj);
    for attempt in 1..=MAX_VIEWS {
        match apply_view(view.as_ref(), ctx, &api).await {
            Err(Error::StaleView) if attempt < MAX_VIEWS => {
                match api.get_opt(&obj.name_any()).await? {
                    Some(fresh) if fresh.meta().deletion_timestamp.is_none() => {
                        view = Cow::Owned(fresh);
                    }
                    // Gone, or being deleted: the watch brings that on its own.
                    _ => return Ok(Action::await_change()),
                }
            }
            outcome => return outcome,
        }
    }
    unreachable!("the last attempt returns")
}

/// One reconcile of one version of the object. Every write it makes is conditioned on that
/// version (or on the one its own previous write left), so a stale view fails with
/// [`Error::StaleView`] instead of overwriting newer state.
async fn apply_view<K: Stage>(obj: &K, ctx: &Context, api: &kube::Api<K>) -> Result<Action> {
    let manage = obj.common().management_policy == ManagementPolicy::Manage;
    // The finalizer is persisted before anything can be created in authentik.
    let finalized;
    let obj = if manage && !has_finalizer(obj) {
        match kube_ops::add_finalizer(api, obj).await? {
            Some(written) => {
                finalized = written;
                &finalized
            }
            None => return Ok(Action::await_change()),
        }
    } else {
        obj
    };
    let mut obs = Observation::default();
    let mut fx = Effects::default();
    let outcome = match ctx.connections.for_stage(obj) {
        Ok((key, conn)) => {
            let outcome = sync::sync(obj, ctx, &conn, api, &mut obs, &mut fx).await;
            if matches!(outcome, Err(Error::Rejected(_))) {
                // A resolved pk may be stale (the object was recreated): resolve afresh next time.
                conn.lookups.forget();
            }
            if let Err(e) = &outcome
                && e.is_outage()
            {
                obs.waiting = waiting_note(conn.client.health().failing_since(), ctx);
            }
            ctx.retry_if_back(&key, &conn);
            outcome
        }
        Err(e) => Err(e),
    };
    if let Err(Error::StaleView) = outcome {
        // Nothing this view could say is worth writing: the caller reads the object afresh.
        return Err(Error::StaleView);
    }
    write_status(obj, ctx, api, &obs, outcome.as_ref().err(), fx).await?;
    outcome.map(|()| Action::await_change())
}

/// What a resource waits for while its authentik fails. The same words for the whole
/// outage: a status that changed on every attempt would be rewritten each time, and each
/// write would start the next attempt at once.
fn waiting_note(since: Option<jiff::Timestamp>, ctx: &Context) -> Option<String> {
    let since = since?;
    Some(format!(
        "failing since {}; retried as soon as authentik answers again (checked at least every {}s), and on its own backoff meanwhile",
        since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ctx.settings.resync.as_secs()
    ))
}

/// Status and events after a reconcile: status only when it changed, a Warning event only
/// when the failure reason changes, and the events the sync step collected.
async fn write_status<K: Stage>(
    obj: &K,
    ctx: &Context,
    api: &kube::Api<K>,
    obs: &Observation,
    err: Option<&Error>,
    fx: Effects,
) -> Result<()> {
    let prev = obj.status();
    let next = next_status(prev, obj.meta().generation, obs, err, &now());
    let pk = next.pk.as_deref();
    // The status first: the sooner it lands, the fewer reconciles run on a version without it.
    let written = if changed(prev, &next) {
        let version = obs
            .written_version
            .as_deref()
            .or(obj.meta().resource_version.as_deref());
        apply_status(api, obj, version, &next).await.map(drop)
    } else {
        Ok(())
    };
    // What happened in authentik happened, whatever became of the status write.
    for (warning, reason, note) in fx.events {
        publish(&ctx.recorder, obj, pk, warning, reason, reason, note).await;
    }
    written?;
    let prev_synced = prev.and_then(|s| s.condition(SYNCED));
    if let Some(e) = err {
        let same = prev_synced.is_some_and(|c| c.status == "False" && c.reason == e.reason());
        if !same {
            publish(
                &ctx.recorder,
                obj,
                pk,
                true,
                e.reason(),
                "Reconcile",
                e.to_string(),
            )
            .await;
        }
    }
    let newly_unsupported = next
        .unsupported_fields
        .iter()
        .any(|f| !prev.is_some_and(|p| p.unsupported_fields.contains(f)));
    if newly_unsupported {
        publish(
            &ctx.recorder,
            obj,
            pk,
            true,
            "UnsupportedFields",
            "Reconcile",
            format!(
                "the connected authentik does not know {}: these fields are not applied (upgrade authentik or remove them)",
                next.unsupported_fields.join(", ")
            ),
        )
        .await;
    }
    Ok(())
}

/// Deletion: delete (or orphan) the stage, then release the finalizer. If authentik cannot
/// be reached the finalizer stays and the status says why.
async fn cleanup<K: Stage>(obj: &K, ctx: &Context) -> Result<Action> {
    if !has_finalizer(obj) {
        return Ok(Action::await_change());
    }
    let api = api_for(&ctx.kube, obj);
    let known = obj.status().and_then(|s| s.pk.clone());
    let manage = obj.common().management_policy == ManagementPolicy::Manage;
    let delete = manage && obj.common().deletion_policy == DeletionPolicy::Delete;
    let name = obj.authentik_name();
    if delete {
        let outcome = delete_stage(obj, ctx, &name).await;
        match outcome {
            Ok(Some(pk)) => {
                let note = format!("deleted the authentik stage {name:?} (pk {pk})");
                publish(
                    &ctx.recorder,
                    obj,
                    Some(&pk),
                    false,
                    "Deleted",
                    "Delete",
                    note,
                )
                .await;
            }
            Ok(None) => {}
            Err(e) => {
                let obs = Observation {
                    pk: known,
                    ..Default::default()
                };
                write_status(obj, ctx, &api, &obs, Some(&e), Effects::default()).await?;
                return Err(e);
            }
        }
    } else if known.is_some() {
        let note = format!(
            "left the authentik stage {name:?} in place (deletionPolicy Orphan or Observe mode)"
        );
        publish(
            &ctx.recorder,
            obj,
            known.as_deref(),
            false,
            "Orphaned",
            "Delete",
            note,
        )
        .await;
    }
    kube_ops::remove_finalizer(&api, obj).await?;
    ctx.reset_backoff(&key(obj));
    // Once the watch has removed this resource from the cache (a moment), the next claimant of
    // its name may take it.
    let stores = ctx.stores.clone();
    let (key, name) = (ConnKey::of_stage(obj), obj.authentik_name());
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        stores.queue(kinds::Which::Claimants(&key, &name));
    });
    Ok(Action::await_change())
}
