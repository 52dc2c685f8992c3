//! Drift detection: per connection and kind, one paginated list every resync interval. Every
//! resource whose stage changed or vanished since the last list is reconciled at once;
//! resources in sync cost nothing more. Also refreshes the resources-by-condition gauge.

use crate::authentik::wire::pk_of;
use crate::caches::{Caches, Queues};
use crate::connections::{ConnKey, Connection};
use crate::crd::{IdentificationStage, PasswordStage, StageStatus, UserLoginStage};
use crate::metrics::{ConditionLabels, ConnectionLabels};
use crate::reconcile::Context;
use crate::reconcile::context::{kind_name, send_matching};
use crate::stage::Stage;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

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
    let mut counts: HashMap<(&'static str, &'static str), i64> = HashMap::new();
    for gone in ctx.connections.prune(|k| ctx.stores.connection_exists(k)) {
        tracing::info!(connection = %gone, "connection deleted");
        ctx.metrics.connection_up.remove(&ConnectionLabels {
            connection: gone.id(),
        });
        ctx.triggers.stages_of(&ctx.stores, &gone);
    }
    // Connections are swept side by side: one authentik that does not answer must not delay
    // drift detection in the others.
    let sweeps = ctx
        .connections
        .all()
        .into_iter()
        .map(|(key, conn)| async move {
            sweep_once::<PasswordStage>(&key, &conn, &ctx.stores.password, &ctx.triggers.password)
                .await;
            sweep_once::<IdentificationStage>(
                &key,
                &conn,
                &ctx.stores.identification,
                &ctx.triggers.identification,
            )
            .await;
            sweep_once::<UserLoginStage>(
                &key,
                &conn,
                &ctx.stores.user_login,
                &ctx.triggers.user_login,
            )
            .await;
            ctx.retry_if_back(&key, &conn);
        });
    futures::future::join_all(sweeps).await;
    count_conditions(&ctx.stores.password, &mut counts);
    count_conditions(&ctx.stores.identification, &mut counts);
    count_conditions(&ctx.stores.user_login, &mut counts);
    for ((kind, condition), n) in counts {
        ctx.metrics
            .resources
            .get_or_create(&ConditionLabels {
                kind: kind.to_string(),
                condition: condition.to_string(),
            })
            .set(n);
    }
}

fn count_conditions<K: Stage>(
    store: &Caches<K>,
    counts: &mut HashMap<(&'static str, &'static str), i64>,
) {
    let kind = kind_name::<K>();
    counts.entry((kind, "ready")).or_default();
    counts.entry((kind, "not_ready")).or_default();
    for obj in store.state() {
        let condition = if obj.status().is_some_and(StageStatus::is_ready) {
            "ready"
        } else {
            "not_ready"
        };
        *counts.entry((kind, condition)).or_default() += 1;
    }
}

/// One paginated list of a kind in one authentik; every resource of that connection whose
/// stage changed or vanished since the last list is reconciled at once. Resources in sync
/// cost nothing more.
async fn sweep_once<K: Stage>(
    key: &ConnKey,
    conn: &Connection,
    store: &Caches<K>,
    trigger: &Queues<K>,
) {
    let kind = kind_name::<K>();
    let listed_from = std::time::Instant::now();
    let listed = match conn.client.list_all(K::ENDPOINT, &[]).await {
        Ok(l) => l,
        Err(e) => {
            if e.is_outage() {
                // Logged once per outage, not per sweep (Context::retry_if_back).
                tracing::debug!(kind, connection = %key, error = %e, "drift sweep failed; next attempt at the next interval");
            } else {
                tracing::warn!(kind, connection = %key, error = %e, "drift sweep failed; next attempt at the next interval");
            }
            return;
        }
    };
    let objects: HashMap<String, serde_json::Value> = listed
        .into_iter()
        .filter_map(|o| pk_of(&o).map(str::to_string).map(|pk| (pk, o)))
        .collect();
    let changed = conn.snapshot::<K>().replace(objects, listed_from);
    send_matching(store, trigger, |obj| {
        let pk = obj.status().and_then(|s| s.pk.as_deref());
        let gone = pk.is_some_and(|pk| conn.snapshot::<K>().get(pk).is_none());
        &ConnKey::of_stage(obj) == key && (gone || pk.is_some_and(|pk| changed.contains(pk)))
    });
}
