//! Drift detection: per connection and kind, one paginated list every resync interval. Every
//! resource whose stage changed or vanished since the last list is reconciled at once;
//! resources in sync cost nothing more. Also refreshes the resources-by-condition gauge.

use crate::connections::{ConnKey, Connection};
use crate::metrics::{ConditionLabels, ConnectionLabels};
use crate::reconcile::Context;
use crate::reconcile::kinds::{ConditionCounts, Which};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// One sweep of every kind on one connection (also when its event log has a gap).
pub async fn sweep_connection(ctx: &Context, key: &ConnKey, conn: &Connection) {
    for kind in &ctx.stores.kinds {
        kind.sweep(key, conn).await;
    }
    ctx.retry_if_back(key, conn);
    // Every interval too, so a connection that never failed has its gauge.
    ctx.set_connection_up(key, conn.client.health().failing_since().is_none());
}

pub async fn sweep_loop(ctx: Arc<Context>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(ctx.settings.resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; the first sweep already ran
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        sweep_all(&ctx).await;
    }
}

/// One sweep of every kind on every connection.
pub async fn sweep_all(ctx: &Context) {
    for gone in ctx.connections.prune(|k| ctx.stores.connection_exists(k)) {
        tracing::info!(connection = %gone, "connection deleted");
        ctx.metrics.connection_up.remove(&ConnectionLabels {
            connection: gone.id(),
        });
        ctx.stores.queue(Which::Connection(&gone));
    }
    // Connections are swept side by side: one authentik that does not answer must not delay
    // drift detection in the others.
    let sweeps = ctx
        .connections
        .all()
        .into_iter()
        .map(|(key, conn)| async move { sweep_connection(ctx, &key, &conn).await });
    futures::future::join_all(sweeps).await;
    let mut counts = ConditionCounts::new();
    for kind in &ctx.stores.kinds {
        kind.count_conditions(&mut counts);
    }
    ctx.metrics
        .set_resources(counts.into_iter().map(|((kind, condition, reason), n)| {
            let labels = ConditionLabels {
                kind: kind.to_string(),
                condition: condition.to_string(),
                reason,
            };
            (labels, n)
        }));
}
