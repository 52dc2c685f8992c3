//! Deleting a resource: delete (or orphan) its authentik object as [`plan::deletion`]
//! decides, then release the finalizer.

use super::context::Context;
use super::kinds;
use super::kube_ops::{self, FORCE_DELETE_ANNOTATION, Notice, api_for, has_finalizer, publish};
use super::objects;
use super::plan::{self, At, Deletion};
use super::record::write_status;
use super::status::Observation;
use crate::connections::ConnKey;
use crate::crd::kind::Kind;
use crate::error::{Error, Result};
use kube::ResourceExt;
use kube::runtime::controller::Action;

/// What deleting `obj` does to its stage, from the pure [`plan::deletion`].
fn deletion_of<K: Kind>(obj: &K, ctx: &Context) -> Deletion {
    let common = obj.policies();
    let forced = obj
        .annotations()
        .get(FORCE_DELETE_ANNOTATION)
        .is_some_and(|v| v == "true");
    let referrers = ctx.stores.referrers(
        crate::crd::kind::kind_name::<K>(),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    );
    plan::deletion(
        common.management_policy,
        common.deletion_policy,
        kube_ops::record(obj),
        &ConnKey::of_stage(obj).id(),
        referrers,
        forced,
    )
}

/// How long a delete waits for the caches that show whether anything still refers to it.
const CACHES_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until every kind's cache holds its first list. The referrers are read from those
/// caches, and a replica that has just become leader fills them kind by kind: an empty one
/// would say nothing refers to a stage that something does.
async fn referrers_known(ctx: &Context) -> Result<()> {
    match tokio::time::timeout(CACHES_WAIT, ctx.stores.synced()).await {
        Ok(()) => Ok(()),
        Err(_) => Err(Error::DeleteBlocked(format!(
            "cannot tell yet whether other resources refer to it: the operator's caches have not all listed their resources within {}s; retrying",
            CACHES_WAIT.as_secs()
        ))),
    }
}

fn delete_blocked(referrers: &[String]) -> Error {
    Error::DeleteBlocked(format!(
        "still referenced by {}; deleting it in authentik would silently clear or remove those references (a deleted stage takes its bindings with it). Delete or change them first, or annotate this resource with {FORCE_DELETE_ANNOTATION}=true",
        referrers.join(", ")
    ))
}

/// The connection a delete goes through; without one, the delete cannot tell or do anything.
fn connection_for<K: Kind>(
    obj: &K,
    ctx: &Context,
) -> Result<std::sync::Arc<crate::connections::Connection>> {
    let (_, conn) = ctx.connections.for_stage(obj).map_err(|e| {
        Error::ConnectionNotReady(format!(
            "cannot delete the {}: {e}. Fix the connection, or set deletionPolicy to Orphan to let go",
            K::NOUN
        ))
    })?;
    Ok(conn)
}

/// The pk of the object `at` names, if authentik still has it: at `pk`, or (the create
/// marker) the one holding the key the marker names.
async fn locate<K: Kind>(obj: &K, ctx: &Context, at: &At) -> Result<Option<String>> {
    let conn = connection_for(obj, ctx)?;
    let found = match at {
        At::Pk(pk) => objects::fetch::<K>(&conn, pk).await?,
        At::Key(key) => objects::find_by_key::<K>(&conn, K::ENDPOINT, key)
            .await?
            .into_iter()
            .next(),
    };
    Ok(found
        .as_ref()
        .and_then(crate::authentik::wire::pk_of)
        .map(str::to_string))
}

/// Deletes the object at `pk`, or (the create marker) the one holding the key the marker
/// names; returns its pk, if any, and whether it was still there.
async fn delete_object<K: Kind>(obj: &K, ctx: &Context, at: At) -> Result<Option<(String, bool)>> {
    let pk = match at {
        At::Pk(pk) => pk,
        At::Key(_) => match locate(obj, ctx, &at).await? {
            Some(pk) => pk,
            None => return Ok(None),
        },
    };
    let conn = connection_for(obj, ctx)?;
    let was_there = objects::delete::<K>(&conn, &pk).await?;
    Ok(Some((pk, was_there)))
}

/// A blocked delete goes on once its object is gone from authentik: whoever deleted it
/// there took the referrers' links with it, so there is nothing left to protect, and
/// holding the resource would only keep its referrers pointing at a pk authentik refuses.
/// They report ReferenceNotReady naming this resource instead.
async fn blocked<K: Kind>(obj: &K, ctx: &Context, referrers: &[String], at: &At) -> Result<()> {
    // Where authentik cannot say, the block stands (the connection reports the outage).
    if !matches!(locate(obj, ctx, at).await, Ok(None)) {
        return Err(delete_blocked(referrers));
    }
    let note = format!(
        "the {} was already deleted in authentik, so nothing was left to delete; {} now refer to a resource that is gone",
        K::NOUN,
        referrers.join(", ")
    );
    let notice = Notice::warning("AlreadyGone", note).during("Delete");
    publish(&ctx.recorder, obj, None, &notice).await;
    Ok(())
}

/// Deletion: delete (or orphan) the stage, then release the finalizer. If authentik cannot
/// be reached the finalizer stays and the status says why.
pub(super) async fn cleanup<K: Kind>(obj: &K, ctx: &Context) -> Result<Action> {
    if !has_finalizer(obj) {
        return Ok(Action::await_change());
    }
    // The cache's copy may still show the finalizer a finished delete removed (its watch
    // lags): working from it would DELETE the object again. The API server's copy decides.
    let api = api_for(&ctx.kube, obj);
    match api.get_opt(&obj.name_any()).await? {
        Some(fresh) if fresh.uid() == obj.uid() && has_finalizer(&fresh) => {
            cleanup_view(&fresh, ctx, &api).await
        }
        _ => Ok(Action::await_change()),
    }
}

async fn cleanup_view<K: Kind>(obj: &K, ctx: &Context, api: &kube::Api<K>) -> Result<Action> {
    let what = K::describe_identity(&obj.identity());
    let deletion = match referrers_known(ctx).await {
        Ok(()) => Ok(deletion_of(obj, ctx)),
        Err(e) => Err(e),
    };
    let deleted = match deletion {
        Err(e) => Err(e),
        Ok(Deletion::Orphan { pk }) => {
            if let Some(pk) = pk {
                let note = format!(
                    "left the authentik {what} in place (deletionPolicy Orphan or Observe mode)"
                );
                let notice = Notice::normal("Orphaned", note).during("Delete");
                publish(&ctx.recorder, obj, Some(&pk), &notice).await;
            }
            Ok(None)
        }
        Ok(Deletion::Nothing) => Ok(None),
        Ok(Deletion::Blocked { referrers, object }) => {
            blocked(obj, ctx, &referrers, &object).await.map(|()| None)
        }
        Ok(Deletion::AtPk(pk)) => delete_object(obj, ctx, At::Pk(pk)).await,
        Ok(Deletion::ByKey(key)) => delete_object(obj, ctx, At::Key(key)).await,
    };
    match deleted {
        Ok(Some((pk, was_there))) => {
            if let Ok((key, conn)) = ctx.connections.for_stage(obj) {
                super::apply::refresh_shown(obj, ctx, &key, &conn, &Default::default());
            }
            let note = if was_there {
                format!("deleted the authentik {what} (pk {pk})")
            } else {
                format!("the authentik {what} (pk {pk}) was already gone")
            };
            let notice = Notice::normal("Deleted", note).during("Delete");
            publish(&ctx.recorder, obj, Some(&pk), &notice).await;
        }
        Ok(None) => {}
        Err(e) => {
            let obs = Observation {
                pk: obj.status().and_then(|s| s.pk.clone()),
                ..Default::default()
            };
            write_status(obj, ctx, api, &obs, Some(&e), &[]).await?;
            return Err(e);
        }
    }
    kube_ops::remove_finalizer(api, obj).await?;
    // Once the watch has removed this resource from the cache (a moment), the next claimant of
    // its identity may take it.
    let stores = ctx.stores.clone();
    let (key, name) = (ConnKey::of_stage(obj), obj.identity());
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        stores.queue(kinds::Which::Claimants(&key, &name));
    });
    Ok(Action::await_change())
}
