//! Deleting a resource: delete (or orphan) its stage as [`plan::deletion`] decides, then
//! release the finalizer.

use super::context::Context;
use super::kinds;
use super::kube_ops::{self, FORCE_DELETE_ANNOTATION, Notice, api_for, has_finalizer, publish};
use super::plan::{self, Deletion};
use super::record::write_status;
use super::status::Observation;
use crate::connections::ConnKey;
use crate::crd::stage::Stage;
use crate::error::{Error, Result};
use kube::ResourceExt;
use kube::runtime::controller::Action;

/// What deleting `obj` does to its stage, from the pure [`plan::deletion`].
fn deletion_of<K: Stage>(obj: &K, ctx: &Context) -> Deletion {
    let common = obj.common();
    let forced = obj
        .annotations()
        .get(FORCE_DELETE_ANNOTATION)
        .is_some_and(|v| v == "true");
    let referrers = ctx.stores.referrers(
        crate::crd::stage::kind_name::<K>(),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    );
    plan::deletion(
        common.management_policy,
        common.deletion_policy,
        kube_ops::record(obj),
        &ConnKey::of_stage(obj).id(),
        &obj.authentik_name(),
        referrers,
        forced,
    )
}

fn delete_blocked(referrers: &[String]) -> Error {
    Error::DeleteBlocked(format!(
        "still referenced by {}; authentik would silently clear those references. Delete or change them first, or annotate this resource with {FORCE_DELETE_ANNOTATION}=true",
        referrers.join(", ")
    ))
}

/// Deletes the stage at `pk`, or (the create marker) the one holding the resource's name;
/// returns the pk deleted, if any.
async fn delete_stage<K: Stage>(
    obj: &K,
    ctx: &Context,
    pk: Option<String>,
) -> Result<Option<String>> {
    let (_, conn) = ctx.connections.for_stage(obj).map_err(|e| {
        Error::ConnectionNotReady(format!(
            "cannot delete the stage: {e}. Fix the connection, or set deletionPolicy to Orphan to let go"
        ))
    })?;
    let pk = match pk {
        Some(pk) => pk,
        None => match conn
            .client
            .find_by_name(K::ENDPOINT, &obj.authentik_name())
            .await?
            .first()
        {
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

/// Deletion: delete (or orphan) the stage, then release the finalizer. If authentik cannot
/// be reached the finalizer stays and the status says why.
pub(super) async fn cleanup<K: Stage>(obj: &K, ctx: &Context) -> Result<Action> {
    if !has_finalizer(obj) {
        return Ok(Action::await_change());
    }
    let api = api_for(&ctx.kube, obj);
    let name = obj.authentik_name();
    let deleted = match deletion_of(obj, ctx) {
        Deletion::Orphan { pk } => {
            if let Some(pk) = pk {
                let note = format!(
                    "left the authentik stage {name:?} in place (deletionPolicy Orphan or Observe mode)"
                );
                let notice = Notice::normal("Orphaned", note).during("Delete");
                publish(&ctx.recorder, obj, Some(&pk), &notice).await;
            }
            Ok(None)
        }
        Deletion::Nothing => Ok(None),
        Deletion::Blocked { referrers } => Err(delete_blocked(&referrers)),
        Deletion::AtPk(pk) => delete_stage(obj, ctx, Some(pk)).await,
        Deletion::ByName => delete_stage(obj, ctx, None).await,
    };
    match deleted {
        Ok(Some(pk)) => {
            let note = format!("deleted the authentik stage {name:?} (pk {pk})");
            let notice = Notice::normal("Deleted", note).during("Delete");
            publish(&ctx.recorder, obj, Some(&pk), &notice).await;
        }
        Ok(None) => {}
        Err(e) => {
            let obs = Observation {
                pk: obj.status().and_then(|s| s.pk.clone()),
                ..Default::default()
            };
            write_status(obj, ctx, &api, &obs, Some(&e), &[]).await?;
            return Err(e);
        }
    }
    kube_ops::remove_finalizer(&api, obj).await?;
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
