//! Reconciling AuthentikConnection and ClusterAuthentikConnection: read the token (and CA)
//! from their Secret, build a client, ask authentik for its version, publish the client in
//! the registry and the outcome in status. Runs again when the Secret changes (token
//! rotation needs no restart) and every resync interval (reachability).

use super::Context;
use super::keyed_data::{self, KeyProblem, KeyedData};
use super::kinds::Which;
use super::kube_ops::apply_status;
use super::status::{carry_over, cond};
use crate::authentik::{AuthentikClient, ClientConfig, RetryPolicy, Token};
use crate::connections::{ConnKey, Connection};
use crate::crd::connection::{ConnectionSettings, ConnectionStatus, KeyRef};
use crate::crd::{AuthentikConnection, ClusterAuthentikConnection};
use crate::error::{Error, Result};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::hash_map::DefaultHasher;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// What the two connection kinds have in common for reconciling.
pub trait ConnectionResource:
    Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    fn key(&self) -> ConnKey;
    fn settings(&self) -> &ConnectionSettings;
    /// Namespace to read a referenced Secret or ConfigMap from, given the one namespace
    /// cluster connections may read from; `Err` says why the reference is not allowed.
    fn source_namespace(&self, r: &KeyRef, cluster_ns: &str) -> Result<String, String>;
    fn allowed_namespaces(&self) -> Option<Vec<String>>;
    fn connection_status(&self) -> Option<&ConnectionStatus>;
    fn api(client: &kube::Client, obj: &Self) -> Api<Self>;
}

impl ConnectionResource for AuthentikConnection {
    fn key(&self) -> ConnKey {
        ConnKey::Namespaced {
            namespace: self.namespace().unwrap_or_default(),
            name: self.name_any(),
        }
    }
    fn settings(&self) -> &ConnectionSettings {
        &self.spec.settings
    }
    fn source_namespace(&self, _: &KeyRef, _: &str) -> Result<String, String> {
        // A namespaced connection reads only from its own namespace.
        Ok(self.namespace().unwrap_or_default())
    }
    fn allowed_namespaces(&self) -> Option<Vec<String>> {
        Some(vec![self.namespace().unwrap_or_default()])
    }
    fn connection_status(&self) -> Option<&ConnectionStatus> {
        self.status.as_ref()
    }
    fn api(client: &kube::Client, obj: &Self) -> Api<Self> {
        Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default())
    }
}

impl ConnectionResource for ClusterAuthentikConnection {
    fn key(&self) -> ConnKey {
        ConnKey::Cluster {
            name: self.name_any(),
        }
    }
    fn settings(&self) -> &ConnectionSettings {
        &self.spec.settings
    }
    fn source_namespace(&self, r: &KeyRef, cluster_ns: &str) -> Result<String, String> {
        cluster_source_namespace(r, cluster_ns)
    }
    fn allowed_namespaces(&self) -> Option<Vec<String>> {
        Some(self.spec.allowed_namespaces.clone()).filter(|v| !v.is_empty())
    }
    fn connection_status(&self) -> Option<&ConnectionStatus> {
        self.status.as_ref()
    }
    fn api(client: &kube::Client, _: &Self) -> Api<Self> {
        Api::all(client.clone())
    }
}

/// A cluster connection reads from one namespace only, so that the operator needs no access
/// to Secrets anywhere else: a reference elsewhere is refused, one without a namespace reads
/// from it.
fn cluster_source_namespace(r: &KeyRef, cluster_ns: &str) -> Result<String, String> {
    match r.namespace.as_deref().map(str::trim) {
        None | Some("") => Ok(cluster_ns.to_string()),
        Some(ns) if ns == cluster_ns => Ok(ns.to_string()),
        Some(ns) => Err(format!(
            "{ns}/{} is not in {cluster_ns:?}: a ClusterAuthentikConnection reads Secrets and ConfigMaps only from the operator's namespace {cluster_ns:?} (--cluster-secret-namespace); move it there",
            r.name
        )),
    }
}

/// Why a connection is not usable, as a condition reason and message.
struct Problem(&'static str, String);

/// The reason of a problem that may pass by itself (the API server failed to answer): the
/// live connection stays in use and the check is retried soon.
const TRANSIENT: &str = "KubernetesError";

pub async fn reconcile<C: ConnectionResource>(obj: Arc<C>, ctx: Arc<Context>) -> Result<Action> {
    let key = obj.key();
    if obj.meta().deletion_timestamp.is_some() {
        ctx.connections.remove(&key);
        ctx.stores.queue(Which::Connection(&key));
        return Ok(Action::await_change());
    }
    let (ready, version) = match check(obj.as_ref(), &ctx).await {
        Ok((conn, version)) => {
            if ctx.connections.set(key.clone(), conn) {
                tracing::info!(connection = %key, "connection ready");
                ctx.stores.queue(Which::Connection(&key));
            }
            (
                cond(
                    "Ready",
                    true,
                    "Connected",
                    &format!("authentik {version} answered"),
                ),
                Some(version),
            )
        }
        Err((Problem(TRANSIENT, message), None)) => {
            return Err(Error::ConnectionNotReady(message));
        }
        Err((Problem(reason, message), conn)) => {
            match conn {
                // Reachable-or-not is the server's business; the client itself is fine, so stages
                // use it and say what authentik answers.
                Some(conn) => {
                    if ctx.connections.set(key.clone(), conn) {
                        ctx.stores.queue(Which::Connection(&key));
                    }
                }
                None => {
                    ctx.connections.fail(key.clone(), message.clone());
                    ctx.stores.queue(Which::Connection(&key));
                }
            }
            (cond("Ready", false, reason, &message), None)
        }
    };
    let prev = obj.connection_status();
    let generation = obj.meta().generation;
    let now = Time(jiff::Timestamp::now());
    let carried = |c: Condition| {
        let before = prev.and_then(|p| p.conditions.iter().find(|p| p.type_ == c.type_));
        carry_over(before, c, generation, &now)
    };
    let mut conditions = vec![carried(ready)];
    if let Some(readable) = ctx.connections.get(&key).and_then(|c| c.events_readable()) {
        conditions.push(carried(event_log_condition(readable)));
    }
    let next = ConnectionStatus {
        version: version.or_else(|| prev.and_then(|p| p.version.clone())),
        observed_generation: generation,
        conditions,
    };
    if prev != Some(&next) {
        let api = C::api(&ctx.kube, obj.as_ref());
        let version = obj.meta().resource_version.as_deref();
        apply_status(&api, obj.as_ref(), version, &next).await?;
    }
    Ok(Action::requeue(ctx.settings.resync))
}

/// Whether the event follower reads this authentik's event log (drift corrected in seconds)
/// or cannot (the periodic sweep alone finds drift).
fn event_log_condition(readable: bool) -> Condition {
    if readable {
        cond(
            "EventLog",
            true,
            "Following",
            "changes made in authentik are seen in its event log within seconds",
        )
    } else {
        cond(
            "EventLog",
            false,
            "EventsForbidden",
            "the token may not read authentik's event log: drift is found by the periodic sweep alone; grant the token's user the permission to view events",
        )
    }
}

pub fn error_policy<C: ConnectionResource>(_: Arc<C>, _: &Error, ctx: Arc<Context>) -> Action {
    Action::requeue(
        ctx.settings
            .backoff_base
            .max(std::time::Duration::from_secs(5)),
    )
}

/// Builds the client and asks authentik for its version. On failure, the client too if it
/// could be built (the problem is then authentik's answer, not our settings).
async fn check<C: ConnectionResource>(
    obj: &C,
    ctx: &Context,
) -> std::result::Result<(Connection, String), (Problem, Option<Connection>)> {
    let s = obj.settings();
    let token = read_key::<Secret, C>(obj, &s.token_secret_ref, ctx)
        .await
        .map_err(|p| (p, None))?;
    let ca = match &s.ca_bundle {
        Some(b) => Some(
            match (&b.secret_ref, &b.config_map_ref) {
                (Some(r), _) => read_key::<Secret, C>(obj, r, ctx).await,
                (None, Some(r)) => read_key::<ConfigMap, C>(obj, r, ctx).await,
                (None, None) => Err(Problem(
                    "InvalidCABundle",
                    "caBundle needs secretRef or configMapRef".into(),
                )),
            }
            .map_err(|p| (p, None))?,
        ),
        None => None,
    };
    let mut hasher = DefaultHasher::new();
    (
        &s.url,
        &token,
        &ca,
        s.insecure_skip_tls_verify,
        obj.allowed_namespaces(),
    )
        .hash(&mut hasher);
    let fingerprint = hasher.finish();
    let mut cfg = ClientConfig::new(s.url.clone(), Token::new(token));
    cfg.timeout = ctx.settings.authentik_timeout;
    cfg.retry = RetryPolicy {
        retries: ctx.settings.authentik_retries,
        ..RetryPolicy::default()
    };
    cfg.ca_pem = ca.map(String::into_bytes);
    cfg.insecure_skip_tls_verify = s.insecure_skip_tls_verify;
    let client = AuthentikClient::new(cfg, Some(ctx.metrics.clone()))
        .map_err(|e| (Problem("InvalidCABundle", e.to_string()), None))?;
    let conn = Connection::new(
        client.clone(),
        ctx.settings.resync,
        obj.allowed_namespaces(),
        fingerprint,
    );
    match client.version().await {
        Ok(v) => Ok((conn, v)),
        Err(e) => Err((Problem(e.reason(), e.to_string()), Some(conn))),
    }
}

async fn read_key<D: KeyedData, C: ConnectionResource>(
    obj: &C,
    r: &KeyRef,
    ctx: &Context,
) -> std::result::Result<String, Problem> {
    let ns = obj
        .source_namespace(r, &ctx.settings.cluster_secret_namespace)
        .map_err(|why| Problem("SecretNotAllowed", format!("{} {why}", D::WHAT)))?;
    keyed_data::read::<D>(&ctx.kube, &ns, &r.name, &r.key)
        .await
        .map_err(|p| match p {
            KeyProblem::Forbidden(m) => Problem("SecretForbidden", m),
            KeyProblem::NotFound(m) => Problem("SecretNotFound", m),
            // Anything else from the API server may pass.
            KeyProblem::Other(m) => Problem(TRANSIENT, m),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(namespace: Option<&str>) -> KeyRef {
        KeyRef {
            name: "token".into(),
            key: "token".into(),
            namespace: namespace.map(str::to_string),
        }
    }

    #[test]
    fn cluster_connections_read_only_from_the_operators_namespace() {
        assert_eq!(cluster_source_namespace(&key(None), "ops").unwrap(), "ops");
        assert_eq!(
            cluster_source_namespace(&key(Some("")), "ops").unwrap(),
            "ops"
        );
        assert_eq!(
            cluster_source_namespace(&key(Some("ops")), "ops").unwrap(),
            "ops"
        );
        let refused = cluster_source_namespace(&key(Some("team-a")), "ops").unwrap_err();
        assert!(refused.contains("team-a/token"), "{refused}");
        assert!(refused.contains("\"ops\""), "{refused}");
    }
}
