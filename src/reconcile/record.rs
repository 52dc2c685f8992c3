//! Recording what a reconcile found: the status (written only when it changed), then the
//! events.

use super::context::Context;
use super::kube_ops::{apply_status, publish};
use super::status::{Observation, SYNCED, changed, next_status};
use super::sync::Event;
use crate::crd::stage::Stage;
use crate::error::{Error, Result};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// Status and events after a reconcile: status only when it changed, a Warning event only
/// when the failure reason changes, and the events the sync step collected.
pub(super) async fn write_status<K: Stage>(
    obj: &K,
    ctx: &Context,
    api: &kube::Api<K>,
    obs: &Observation,
    err: Option<&Error>,
    events: &[Event],
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
    for e in events {
        let (warning, reason, note) = (e.warning, e.reason, e.note.clone());
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
