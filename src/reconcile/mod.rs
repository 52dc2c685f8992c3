//! The one generic reconciler for every stage kind. A reconcile reads as one pipeline:
//! [`apply`] (finalizer, then [`sync`]: desire → look → the pure [`plan`] → execute, then
//! [`record`]: status, events), or [`delete`] when the resource goes.

mod apply;
pub mod connection;
pub mod context;
mod delete;
pub mod diff;
mod execute;
pub mod keyed_data;
pub mod kinds;
pub mod kube_ops;
pub mod legacy;
pub mod naming;
pub mod objects;
pub mod plan;
mod record;
pub mod resolve;
pub mod secrets;
pub mod status;
pub mod sync;

pub use context::{Context, Settings, Stores};

use crate::crd::kind::Kind;
use crate::error::{Error, Result};
use crate::metrics::{ErrorLabels, KindLabels};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use std::sync::Arc;
use std::time::Instant;

/// Entry point the controllers call.
pub async fn reconcile<K: Kind>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let kind = crate::crd::kind::kind_name::<K>();
    let started = Instant::now();
    let result = if obj.meta().deletion_timestamp.is_some() {
        delete::cleanup(obj.as_ref(), &ctx).await
    } else {
        apply::apply(obj.as_ref(), &ctx).await
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
pub fn error_policy<K: Kind>(obj: Arc<K>, err: &Error, ctx: Arc<Context>) -> Action {
    if !err.is_transient() {
        ctx.reset_backoff(&key(obj.as_ref()));
        return Action::await_change();
    }
    let delay = ctx.next_backoff(&key(obj.as_ref()));
    Action::requeue(err.retry_after().map_or(delay, |ra| ra.max(delay)))
}

fn key<K: Kind>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        crate::crd::kind::kind_name::<K>(),
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}
