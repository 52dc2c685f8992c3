//! Recording what a reconcile found: the status (written only when it changed), then the
//! events.

use super::context::Context;
use super::kube_ops::{Notice, apply_status, condition_version, publish};
use super::status::{Observation, SYNCED, changed, next_status};
use crate::crd::kind::Kind;
use crate::error::{Error, Result};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// What one sync reports: what it learnt (even when a later step failed), the events to
/// publish, and how it ended.
#[derive(Debug)]
pub struct Report {
    pub obs: Observation,
    pub events: Vec<Notice>,
    pub outcome: Result<()>,
}

impl Report {
    pub(super) fn new(obs: Observation, events: Vec<Notice>, outcome: Result<()>) -> Self {
        Report {
            obs,
            events,
            outcome,
        }
    }

    pub(super) fn failed(obs: Observation, error: Error) -> Self {
        Report::new(obs, Vec::new(), Err(error))
    }
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// Status and events after a reconcile: status only when it changed, a Warning event only
/// when the failure reason changes, and the events the sync step collected.
pub(super) async fn write_status<K: Kind>(
    obj: &K,
    ctx: &Context,
    api: &kube::Api<K>,
    obs: &Observation,
    err: Option<&Error>,
    events: &[Notice],
) -> Result<()> {
    let prev = obj.status();
    let next = next_status(prev, obj.meta().generation, obs, err, &now());
    let pk = next.pk.as_deref();
    // The status first: the sooner it lands, the fewer reconciles run on a version without it.
    let written = if changed(prev, &next) {
        let version = condition_version(obj, obs.written_version.as_deref());
        apply_status(api, obj, version, &next).await.map(drop)
    } else {
        Ok(())
    };
    // What happened in authentik happened, whatever became of the status write.
    for notice in events {
        publish(&ctx.recorder, obj, pk, notice).await;
    }
    written?;
    let prev_synced = prev.and_then(|s| s.condition(SYNCED));
    if let Some(e) = err {
        let same = prev_synced.is_some_and(|c| c.status == "False" && c.reason == e.reason());
        if !same {
            let notice = Notice::warning(e.reason(), e.to_string()).during("Reconcile");
            publish(&ctx.recorder, obj, pk, &notice).await;
        }
    }
    let newly_unsupported = next
        .unsupported_fields
        .iter()
        .any(|f| !prev.is_some_and(|p| p.unsupported_fields.contains(f)));
    if newly_unsupported {
        let note = format!(
            "the connected authentik does not know {}: these fields are not applied (upgrade authentik or remove them)",
            next.unsupported_fields.join(", ")
        );
        let notice = Notice::warning("UnsupportedFields", note).during("Reconcile");
        publish(&ctx.recorder, obj, pk, &notice).await;
    }
    Ok(())
}
