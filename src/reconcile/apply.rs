//! Applying one resource: the finalizer first, then the sync against authentik, then the
//! status and events. A view of the resource that turns out stale is read again.

use super::context::Context;
use super::kube_ops::api_for;
use super::record::Report;
use super::record::write_status;
use super::status::Observation;
use super::sync;
use crate::connections::{ConnKey, Connection};
use crate::crd::kind::Kind;
use crate::error::{Error, Result};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// How many times a reconcile starts again from a fresh read when its view turns out stale.
const MAX_VIEWS: usize = 3;

pub(super) async fn apply<K: Kind>(obj: &K, ctx: &Context) -> Result<Action> {
    let api = api_for(&ctx.kube, obj);
    let mut view = Cow::Borrowed(obj);
    let mut learnt = None;
    for attempt in 1..=MAX_VIEWS {
        match apply_view(view.as_ref(), ctx, &api, &mut learnt).await {
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
///
/// `learnt`: the object an earlier view of this reconcile created or bound to, whose status
/// write a newer version refused (connection id, pk). That newer version's status does not
/// show it, and its spec may ask for another key (a rename): looked for by that key, the
/// object would be created a second time and the first left behind. So it is trusted as if
/// the status held it, and the status written now records it.
async fn apply_view<K: Kind>(
    obj: &K,
    ctx: &Context,
    api: &kube::Api<K>,
    learnt: &mut Option<(String, String)>,
) -> Result<Action> {
    let report = match ctx.connections.for_stage(obj) {
        Ok((key, conn)) => {
            let known = learnt
                .as_ref()
                .filter(|(c, _)| *c == key.id())
                .map(|(_, pk)| pk.as_str());
            let mut report = sync::sync(obj, ctx, &conn, api, known).await;
            if report.obs.wrote {
                refresh_shown(obj, ctx, &key, &conn, &report.obs.resolved);
            }
            if let Err(Error::Rejected(why)) = &report.outcome {
                // A resolved pk may be stale (the object was recreated): resolve afresh next time.
                conn.lookups.forget();
                if let Some(e) = super::resolve::stale_reference(why, &report.obs.resolved) {
                    report.outcome = Err(e);
                }
            }
            if let Err(e) = &report.outcome
                && e.is_outage()
            {
                report.obs.waiting = waiting_note(conn.client.health().failing_since(), ctx);
            }
            ctx.retry_if_back(&key, &conn);
            report
        }
        Err(e) => Report::failed(Observation::default(), e),
    };
    if let Err(Error::StaleView) = report.outcome {
        // Nothing this view could say is worth writing: the caller reads the object afresh.
        return Err(Error::StaleView);
    }
    let err = report.outcome.as_ref().err();
    let written = write_status(obj, ctx, api, &report.obs, err, &report.events).await;
    if let Err(Error::StaleView) = written
        && !report.obs.observe
        && let (Some(connection), Some(pk)) = (&report.obs.connection, &report.obs.pk)
    {
        *learnt = Some((connection.clone(), pk.clone()));
    }
    written?;
    report.outcome.map(|()| Action::await_change())
}

/// After a write of `obj`, the objects whose status shows it (see `Kind::SHOWN_ON`), as its
/// status named them and as `now` does (a binding moved to another stage changes both).
pub(super) fn refresh_shown<K: Kind>(
    obj: &K,
    ctx: &Context,
    key: &ConnKey,
    conn: &Connection,
    now: &BTreeMap<String, String>,
) {
    let before = obj.status().map(|s| &s.resolved_references);
    let mut pks: Vec<&String> = K::SHOWN_ON
        .iter()
        .flat_map(|field| [before.and_then(|b| b.get(*field)), now.get(*field)])
        .flatten()
        .collect();
    pks.sort();
    pks.dedup();
    for pk in pks {
        ctx.stores.refresh(key, conn, pk);
    }
}

/// What a resource waits for while its authentik fails. The same words for the whole
/// outage: a status that changed on every attempt would be rewritten each time, and each
/// write would start the next attempt at once.
fn waiting_note(since: Option<jiff::Timestamp>, ctx: &Context) -> Option<String> {
    let since = since?;
    Some(format!(
        "failing since {}; retried as soon as authentik answers again (checked at least every {}s), and on its own backoff meanwhile",
        since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ctx.settings.probe.as_secs().max(1)
    ))
}
