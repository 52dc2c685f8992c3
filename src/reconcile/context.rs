//! What every reconcile shares: clients, caches of both sides, and per-object backoff.

use super::kinds::{KindOps, Which};
use super::kube_ops::Recorder;
use super::naming::Claim;
use crate::caches::{Caches, Queues};
use crate::connections::{ConnKey, Connection, Registry};
use crate::crd::{AuthentikConnection, ClusterAuthentikConnection};
use crate::metrics::{ConnectionLabels, Metrics};
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings a reconcile needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often the drift sweep lists authentik.
    pub resync: Duration,
    /// How often the operator learns that authentik answers again: each poll of the event
    /// log when it is followed, else each sweep.
    pub probe: Duration,
    /// First retry delay after a failed reconcile; doubles per failure.
    pub backoff_base: Duration,
    /// Longest delay between retries of a failing object.
    pub backoff_max: Duration,
    /// Per-request timeout of authentik clients built for connections.
    pub authentik_timeout: Duration,
    /// Retries of idempotent authentik requests.
    pub authentik_retries: u32,
    /// The one namespace ClusterAuthentikConnections read Secrets and ConfigMaps from.
    pub cluster_secret_namespace: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            resync: Duration::from_secs(60),
            probe: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            authentik_timeout: Duration::from_secs(10),
            authentik_retries: 3,
            cluster_secret_namespace: "default".into(),
        }
    }
}

/// Read access to the informer caches: every registered stage kind, and the connections.
#[derive(Clone)]
pub struct Stores {
    /// The registered stage kinds (see [`crate::kinds`]).
    pub kinds: Vec<Arc<dyn KindOps>>,
    /// Connection resources, to notice deleted ones (see `Registry::prune`).
    pub connections: Caches<AuthentikConnection>,
    pub cluster_connections: Caches<ClusterAuthentikConnection>,
    /// The connection controllers' queues.
    pub connection_queues: Queues<AuthentikConnection>,
    pub cluster_connection_queue: Queues<ClusterAuthentikConnection>,
}

impl Stores {
    /// Whether the resource behind a connection key still exists.
    pub fn connection_exists(&self, key: &ConnKey) -> bool {
        match key {
            ConnKey::Default => true,
            ConnKey::Namespaced { namespace, name } => self
                .connections
                .get(&ObjectRef::new(name).within(namespace))
                .is_some(),
            ConnKey::Cluster { name } => self
                .cluster_connections
                .get(&ObjectRef::new(name))
                .is_some(),
        }
    }

    /// The registered kind whose objects authentik reports as `model` (`app.model_name`).
    pub fn kind_of_model(&self, model: &str) -> Option<&dyn KindOps> {
        self.kinds
            .iter()
            .find(|k| k.model() == model)
            .map(|k| k.as_ref())
    }

    /// Reads the object at `pk` afresh and reconciles the resource holding it: something it
    /// shows in its status changed.
    pub fn refresh(&self, key: &ConnKey, conn: &Connection, pk: &str) {
        for k in &self.kinds {
            k.forget(conn, pk);
            k.queue(Which::Pk(key, pk));
        }
    }

    /// The registered stage kind named `kind`.
    pub fn kind(&self, kind: &str) -> Option<&dyn KindOps> {
        self.kinds
            .iter()
            .find(|k| k.kind() == kind)
            .map(|k| k.as_ref())
    }

    /// The claims on the authentik name `name` by resources that manage (not merely
    /// observe) a stage. Only the resources of that name become claims: every reconcile
    /// asks, and building a claim for each of thousands of resources each time made
    /// converging quadratic.
    pub fn claims_on(&self, name: &str) -> Vec<Claim> {
        let mut out = Vec::new();
        for k in &self.kinds {
            k.claims_on(name, &mut out);
        }
        out
    }

    /// Resources in `namespace` that reference the `kind` resource `name` with `ref`.
    pub fn referrers(&self, kind: &str, namespace: &str, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for k in &self.kinds {
            k.referrers(kind, namespace, name, &mut out);
        }
        out.sort();
        out
    }

    /// Queues the matching resources of every kind for a reconcile; how many.
    pub fn queue(&self, which: Which<'_>) -> usize {
        self.kinds.iter().map(|k| k.queue(which)).sum()
    }

    /// See [`KindOps::forget_referencing`], for every kind.
    pub fn forget_referencing(&self, key: &ConnKey, conn: &Connection, pk: &str) {
        for k in &self.kinds {
            k.forget_referencing(key, conn, pk);
        }
    }

    /// Queues a check of the connection resource behind `key` (none for the default).
    pub fn queue_connection_resources(&self, key: &ConnKey) {
        match key {
            ConnKey::Default => {}
            ConnKey::Namespaced { namespace, name } => self
                .connection_queues
                .send(ObjectRef::new(name).within(namespace)),
            ConnKey::Cluster { name } => self.cluster_connection_queue.send(ObjectRef::new(name)),
        }
    }

    /// Waits until every kind's caches hold their first list.
    pub async fn synced(&self) {
        for k in &self.kinds {
            k.synced().await;
        }
    }
}

/// Shared state of all controllers.
pub struct Context {
    pub kube: kube::Client,
    /// The authentik instances stages live in.
    pub connections: Arc<Registry>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub stores: Stores,
    pub settings: Settings,
    /// Consecutive failures per object, for exponential backoff.
    pub failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        kube: kube::Client,
        connections: Arc<Registry>,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        stores: Stores,
        settings: Settings,
    ) -> Self {
        Context {
            kube,
            connections,
            recorder,
            metrics,
            stores,
            settings,
            failures: Mutex::default(),
        }
    }

    /// Records a failure of `key` and returns how long to wait before the next attempt.
    pub fn next_backoff(&self, key: &str) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        backoff_delay(
            self.settings.backoff_base,
            self.settings.backoff_max,
            *n,
            fastrand::f64(),
        )
    }

    /// After requests to a connection: if its authentik answers again after failing, the
    /// resources that failed on it are reconciled now rather than at the end of their
    /// backoff. Outages are logged and shown in the up/down gauge when they start and end;
    /// a reconcile that sees no transition does nothing here.
    pub fn retry_if_back(&self, key: &ConnKey, conn: &Connection) {
        let health = conn.client.health();
        if health.take_went_down()
            && let Some(since) = health.failing_since()
        {
            self.set_connection_up(key, false);
            tracing::warn!(connection = %key, %since, "authentik stopped answering (unreachable, 5xx, 429 or the token refused); its resources wait for it");
        }
        if health.take_comeback() {
            self.set_connection_up(key, true);
            tracing::info!(connection = %key, "authentik answers again; retrying the resources that waited for it");
            self.stores.queue(Which::WaitingOn(key));
        }
    }

    /// `authentik_operator_connection_up` for one connection.
    pub fn set_connection_up(&self, key: &ConnKey, up: bool) {
        self.metrics
            .connection_up
            .get_or_create(&ConnectionLabels {
                connection: key.id(),
            })
            .set(i64::from(up));
    }

    pub fn reset_backoff(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// Exponential backoff for the `failures`-th consecutive failure, capped, with jitter in the
/// upper half so that objects failing together do not retry together.
pub fn backoff_delay(base: Duration, max: Duration, failures: u32, jitter: f64) -> Duration {
    let exp = base
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(30)))
        .min(max);
    exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::backoff_delay;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_secs(1);
        let m = Duration::from_secs(300);
        assert_eq!(backoff_delay(b, m, 1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(b, m, 4, 1.0), Duration::from_secs(8));
        assert_eq!(backoff_delay(b, m, 40, 1.0), Duration::from_secs(300));
        assert_eq!(backoff_delay(b, m, 4, 0.0), Duration::from_secs(4));
    }
}
