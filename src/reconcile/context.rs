//! What every reconcile shares: clients, caches of both sides, and per-object backoff.

use super::naming::Claim;
use crate::caches::{Caches, Queues};
use crate::connections::{ConnKey, Connection, Registry};
use crate::crd::refs::By;
use crate::crd::{
    AuthentikConnection, ClusterAuthentikConnection, IdentificationStage, ManagementPolicy,
    PasswordStage, UserLoginStage,
};
use crate::error::Error;
use crate::metrics::{ConnectionLabels, Metrics};
use crate::stage::Stage;
use kube::ResourceExt;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings a reconcile needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often the drift sweep lists authentik.
    pub resync: Duration,
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
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            authentik_timeout: Duration::from_secs(10),
            authentik_retries: 3,
            cluster_secret_namespace: "default".into(),
        }
    }
}

/// Read access to the informer caches of all three kinds (for name claims and references).
#[derive(Clone)]
pub struct Stores {
    pub password: Caches<PasswordStage>,
    pub identification: Caches<IdentificationStage>,
    pub user_login: Caches<UserLoginStage>,
    /// Connection resources, to notice deleted ones (see `Registry::prune`).
    pub connections: Caches<AuthentikConnection>,
    pub cluster_connections: Caches<ClusterAuthentikConnection>,
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

    /// Names claimed by resources that manage (not merely observe) a stage.
    pub fn claims(&self) -> Vec<Claim> {
        let mut out = Vec::new();
        collect_claims(&self.password, &mut out);
        collect_claims(&self.identification, &mut out);
        collect_claims(&self.user_login, &mut out);
        out
    }

    /// Resources in `namespace` that reference the `kind` resource `name` with `ref`.
    pub fn referrers(&self, kind: &str, namespace: &str, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        collect_referrers(&self.password, kind, namespace, name, &mut out);
        collect_referrers(&self.identification, kind, namespace, name, &mut out);
        collect_referrers(&self.user_login, kind, namespace, name, &mut out);
        out.sort();
        out
    }
}

pub fn claim_of<K: Stage>(obj: &K) -> Claim {
    Claim {
        kind: kind_name::<K>(),
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        authentik_name: obj.authentik_name(),
        connection: ConnKey::of_stage(obj),
        created: obj.meta().creation_timestamp.as_ref().map(|t| t.0),
        holds: obj.status().is_some_and(|s| {
            s.pk.is_some() && s.name.as_deref() == Some(obj.authentik_name().as_str())
        }),
    }
}

/// The kind's name (`PasswordStage`), from the CRD derive: the one source of it, so no kind
/// can report itself under another's name.
pub fn kind_name<K: Stage>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(name) => name,
        // The derive names kinds with literals; an owned name would be a new kind of derive.
        std::borrow::Cow::Owned(name) => Box::leak(name.into_boxed_str()),
    }
}

fn collect_claims<K: Stage>(store: &Caches<K>, out: &mut Vec<Claim>) {
    for obj in store.state() {
        if obj.common().management_policy == ManagementPolicy::Manage {
            out.push(claim_of(obj.as_ref()));
        }
    }
}

fn collect_referrers<K: Stage>(
    store: &Caches<K>,
    kind: &str,
    namespace: &str,
    name: &str,
    out: &mut Vec<String>,
) {
    for obj in store.state() {
        if obj.namespace().as_deref() != Some(namespace) || obj.meta().deletion_timestamp.is_some()
        {
            continue;
        }
        let refers = obj.references().iter().any(|f| {
            f.target.custom_resource_kind() == Some(kind)
                && f.values
                    .iter()
                    .flatten()
                    .any(|v| v.as_ref() == Some(&By::Ref(name.to_string())))
        });
        if refers {
            out.push(format!("{}/{}", kind_name::<K>(), obj.name_any()));
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
    /// Reconciles stages from outside their own watch (drift sweeps, connection changes).
    pub triggers: Triggers,
}

/// Senders into each stage controller's queue.
#[derive(Clone)]
pub struct Triggers {
    pub password: Queues<PasswordStage>,
    pub identification: Queues<IdentificationStage>,
    pub user_login: Queues<UserLoginStage>,
}

impl Triggers {
    /// Queues every stage that uses `connection`.
    pub fn stages_of(&self, stores: &Stores, connection: &ConnKey) {
        send_matching(&stores.password, &self.password, |o| {
            &ConnKey::of_stage(o) == connection
        });
        send_matching(&stores.identification, &self.identification, |o| {
            &ConnKey::of_stage(o) == connection
        });
        send_matching(&stores.user_login, &self.user_login, |o| {
            &ConnKey::of_stage(o) == connection
        });
    }
}

impl Triggers {
    /// Queues the stages of `connection` whose last reconcile failed because authentik could
    /// not serve it: it answers again, so they need not wait out their backoff.
    pub fn waiting_on(&self, stores: &Stores, connection: &ConnKey) {
        fn waiting<K: Stage>(o: &K, connection: &ConnKey) -> bool {
            &ConnKey::of_stage(o) == connection
                && o.status()
                    .and_then(|s| s.condition("Synced"))
                    .is_some_and(|c| c.status == "False" && Error::is_outage_reason(&c.reason))
        }
        send_matching(&stores.password, &self.password, |o| waiting(o, connection));
        send_matching(&stores.identification, &self.identification, |o| {
            waiting(o, connection)
        });
        send_matching(&stores.user_login, &self.user_login, |o| {
            waiting(o, connection)
        });
    }

    /// Queues the other resources that claim `authentik_name` in `connection`: when a claim
    /// goes away, the next one in line may take the name now rather than at its next retry.
    pub fn claimants_of(&self, stores: &Stores, connection: &ConnKey, authentik_name: &str) {
        let claims =
            |o: &dyn ClaimOf| o.claim_key() == (connection.clone(), authentik_name.to_string());
        send_matching(&stores.password, &self.password, |o| claims(o));
        send_matching(&stores.identification, &self.identification, |o| claims(o));
        send_matching(&stores.user_login, &self.user_login, |o| claims(o));
    }
}

/// The (connection, authentik name) a stage claims.
trait ClaimOf {
    fn claim_key(&self) -> (ConnKey, String);
}

impl<K: Stage> ClaimOf for K {
    fn claim_key(&self) -> (ConnKey, String) {
        (ConnKey::of_stage(self), self.authentik_name())
    }
}

pub fn send_matching<K: Stage>(store: &Caches<K>, tx: &Queues<K>, pred: impl Fn(&K) -> bool) {
    for obj in store.state() {
        if pred(obj.as_ref()) {
            tx.send(ObjectRef::from_obj(obj.as_ref()));
        }
    }
}

impl Context {
    pub fn new(
        kube: kube::Client,
        connections: Arc<Registry>,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        stores: Stores,
        settings: Settings,
        triggers: Triggers,
    ) -> Self {
        Context {
            kube,
            connections,
            recorder,
            metrics,
            stores,
            settings,
            failures: Mutex::default(),
            triggers,
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
    /// backoff. Also keeps the connection's up/down gauge current.
    pub fn retry_if_back(&self, key: &ConnKey, conn: &Connection) {
        let health = conn.client.health();
        self.metrics
            .connection_up
            .get_or_create(&ConnectionLabels {
                connection: key.id(),
            })
            .set(i64::from(health.failing_since().is_none()));
        if health.take_went_down()
            && let Some(since) = health.failing_since()
        {
            tracing::warn!(connection = %key, %since, "authentik stopped answering (unreachable, 5xx, 429 or the token refused); its resources wait for it");
        }
        if health.take_comeback() {
            tracing::info!(connection = %key, "authentik answers again; retrying the resources that waited for it");
            self.triggers.waiting_on(&self.stores, key);
        }
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
    use super::{backoff_delay, kind_name};
    use crate::crd::{IdentificationStage, PasswordStage, UserLoginStage};
    use kube::Resource;
    use std::borrow::Cow;
    use std::time::Duration;

    #[test]
    fn kind_names_come_from_the_derive_and_are_borrowed() {
        assert_eq!(kind_name::<PasswordStage>(), "PasswordStage");
        assert_eq!(kind_name::<IdentificationStage>(), "IdentificationStage");
        assert_eq!(kind_name::<UserLoginStage>(), "UserLoginStage");
        // Borrowed: kind_name never leaks.
        assert!(matches!(PasswordStage::kind(&()), Cow::Borrowed(_)));
        assert!(matches!(IdentificationStage::kind(&()), Cow::Borrowed(_)));
        assert!(matches!(UserLoginStage::kind(&()), Cow::Borrowed(_)));
    }

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
