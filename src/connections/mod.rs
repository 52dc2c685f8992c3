//! Which authentik a stage talks to. The registry holds one live client per connection
//! (the operator-wide default from the flags, and each AuthentikConnection or
//! ClusterAuthentikConnection), each with its own drift snapshots and lookup cache, since
//! pks, names and drift belong to one authentik instance.

pub mod lookups;
pub mod own_writes;
pub mod refused;
pub mod snapshot;

use crate::authentik::AuthentikClient;
use crate::crd::kind::Kind;
use crate::crd::{ConnectionKind, Policies};
use crate::error::{Error, Result};
use lookups::Lookups;
use snapshot::Snapshot;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Identifies a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnKey {
    /// The operator's own flags.
    Default,
    Namespaced {
        namespace: String,
        name: String,
    },
    Cluster {
        name: String,
    },
}

impl fmt::Display for ConnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnKey::Default => f.write_str("the operator's default authentik"),
            ConnKey::Namespaced { namespace, name } => {
                write!(f, "AuthentikConnection {namespace}/{name}")
            }
            ConnKey::Cluster { name } => write!(f, "ClusterAuthentikConnection {name}"),
        }
    }
}

impl ConnKey {
    /// A stable identifier for status (`default`, `AuthentikConnection/<ns>/<name>`,
    /// `ClusterAuthentikConnection/<name>`).
    pub fn id(&self) -> String {
        match self {
            ConnKey::Default => "default".into(),
            ConnKey::Namespaced { namespace, name } => {
                format!("AuthentikConnection/{namespace}/{name}")
            }
            ConnKey::Cluster { name } => format!("ClusterAuthentikConnection/{name}"),
        }
    }

    /// The connection a stage in `namespace` with these common fields uses.
    pub fn of(policies: &Policies, namespace: &str) -> ConnKey {
        match &policies.connection_ref {
            None => ConnKey::Default,
            Some(r) if r.kind == ConnectionKind::ClusterAuthentikConnection => ConnKey::Cluster {
                name: r.name.clone(),
            },
            Some(r) => ConnKey::Namespaced {
                namespace: namespace.to_string(),
                name: r.name.clone(),
            },
        }
    }

    pub fn of_stage<K: Kind>(obj: &K) -> ConnKey {
        ConnKey::of(
            obj.policies(),
            &kube::ResourceExt::namespace(obj).unwrap_or_default(),
        )
    }
}

/// One reachable authentik: its client, and what we know of it.
pub struct Connection {
    pub client: AuthentikClient,
    /// One per stage endpoint, made on first use (so no kind can be missing one).
    snapshots: RwLock<HashMap<&'static str, Arc<Snapshot>>>,
    /// Names and slugs already looked up in this authentik.
    pub lookups: Lookups,
    /// Namespaces allowed to use it (None: all).
    pub allowed_namespaces: Option<Vec<String>>,
    /// Identifies the settings the client was built from (URL, token, CA), so an unchanged
    /// connection keeps its caches.
    pub fingerprint: u64,
    /// authentik's release (year, minor), as last asked, and when: asked only by kinds whose
    /// fields some releases store differently, and again after a resync interval (an upgrade).
    release: Mutex<Option<((u32, u32), Instant)>>,
    ttl: Duration,
    /// Endpoints of registered kinds this authentik answered 404 for (an older release).
    unsupported: Mutex<std::collections::HashSet<&'static str>>,
    /// Our own recent writes, which the event follower does not echo back.
    pub own_writes: own_writes::OwnWrites,
    /// Whether the event follower can read this authentik's log (None: not tried yet).
    events_readable: Mutex<Option<bool>>,
    /// Writes refused, not to be sent again unchanged.
    pub refused: refused::Refused,
}

impl Connection {
    pub fn new(
        client: AuthentikClient,
        ttl: Duration,
        allowed_namespaces: Option<Vec<String>>,
        fingerprint: u64,
    ) -> Self {
        Connection {
            client,
            snapshots: RwLock::default(),
            lookups: Lookups::new(ttl),
            allowed_namespaces,
            fingerprint,
            release: Mutex::new(None),
            ttl,
            unsupported: Mutex::default(),
            own_writes: own_writes::OwnWrites::default(),
            events_readable: Mutex::new(None),
            refused: refused::Refused::default(),
        }
    }

    /// Whether the event follower can read the event log (None: not tried yet).
    pub fn events_readable(&self) -> Option<bool> {
        *self
            .events_readable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records whether the event log can be read; returns whether that changed.
    pub fn set_events_readable(&self, readable: bool) -> bool {
        let mut r = self
            .events_readable
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        r.replace(readable) != Some(readable)
    }

    /// Records whether this authentik serves `endpoint`; returns whether that changed.
    pub fn set_supported(&self, endpoint: &'static str, supported: bool) -> bool {
        let mut set = self.unsupported.lock().unwrap_or_else(|e| e.into_inner());
        if supported {
            set.remove(endpoint)
        } else {
            set.insert(endpoint)
        }
    }

    /// authentik's release as (year, minor): `2024.4.4` is (2024, 4).
    pub async fn release(&self) -> Result<(u32, u32)> {
        let known = *self.release.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((release, at)) = known
            && at.elapsed() < self.ttl
        {
            return Ok(release);
        }
        let text = self.client.version().await?;
        let release = parse_release(&text).ok_or_else(|| {
            Error::Protocol(format!(
                "authentik reports a version that is no release: {text:?}"
            ))
        })?;
        *self.release.lock().unwrap_or_else(|e| e.into_inner()) = Some((release, Instant::now()));
        Ok(release)
    }

    pub fn snapshot<K: Kind>(&self) -> Arc<Snapshot> {
        if let Some(s) = self
            .snapshots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(K::ENDPOINT)
        {
            return s.clone();
        }
        self.snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(K::ENDPOINT)
            .or_insert_with(|| Arc::new(Snapshot::keeping(K::KEY, kept_fields::<K>())))
            .clone()
    }

    pub fn allows(&self, namespace: &str) -> bool {
        self.allowed_namespaces
            .as_ref()
            .is_none_or(|allowed| allowed.is_empty() || allowed.iter().any(|n| n == namespace))
    }
}

/// (year, minor) of a version such as `2024.4.4` or `2026.2.0-rc1`.
pub fn parse_release(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split(['.', '-']);
    let year = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((year, minor))
}

/// The live connections, and why the missing ones are missing.
#[derive(Default)]
pub struct Registry {
    live: RwLock<HashMap<ConnKey, Arc<Connection>>>,
    problems: RwLock<HashMap<ConnKey, String>>,
}

impl Registry {
    pub fn get(&self, key: &ConnKey) -> Option<Arc<Connection>> {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Installs `conn` unless one with the same fingerprint is live; returns whether it changed.
    pub fn set(&self, key: ConnKey, conn: Connection) -> bool {
        self.problems
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        if live
            .get(&key)
            .is_some_and(|c| c.fingerprint == conn.fingerprint)
        {
            return false;
        }
        live.insert(key, Arc::new(conn));
        true
    }

    /// Takes a connection out of use and records why.
    pub fn fail(&self, key: ConnKey, why: String) {
        self.live
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        self.problems
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, why);
    }

    pub fn remove(&self, key: &ConnKey) {
        self.live
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        self.problems
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Drops the connections (and recorded problems) whose resource is gone; returns them.
    /// The default connection is never dropped. Deleted connections are noticed here, not by
    /// their reconciler: they carry no finalizer, so their deletion is never reconciled.
    pub fn prune(&self, exists: impl Fn(&ConnKey) -> bool) -> Vec<ConnKey> {
        let keep = |k: &ConnKey| *k == ConnKey::Default || exists(k);
        let mut gone = Vec::new();
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        live.retain(|k, _| {
            keep(k) || {
                gone.push(k.clone());
                false
            }
        });
        let mut problems = self.problems.write().unwrap_or_else(|e| e.into_inner());
        problems.retain(|k, _| {
            keep(k) || {
                gone.push(k.clone());
                false
            }
        });
        gone.sort();
        gone.dedup();
        gone
    }

    pub fn all(&self) -> Vec<(ConnKey, Arc<Connection>)> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = live.iter().map(|(k, c)| (k.clone(), c.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The connection for a stage, or why it cannot be used.
    pub fn for_stage<K: Kind>(&self, obj: &K) -> Result<(ConnKey, Arc<Connection>)> {
        let key = ConnKey::of_stage(obj);
        let namespace = kube::ResourceExt::namespace(obj).unwrap_or_default();
        match self.get(&key) {
            Some(conn) if conn.allows(&namespace) => Ok((key, conn)),
            Some(_) => Err(Error::InvalidReference(format!(
                "spec.connectionRef: {key} does not allow namespace {namespace:?}"
            ))),
            None => {
                let why = self
                    .problems
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| match key {
                        ConnKey::Default => "no connectionRef, and the operator has no default authentik (--authentik-url)".into(),
                        _ => "it does not exist yet".into(),
                    });
                Err(Error::ConnectionNotReady(format!(
                    "{key} is not usable: {why}"
                )))
            }
        }
    }
}

/// What a kind's snapshot keeps of each object: the fields its spec can set, and for stages
/// the flows they are bound to.
fn kept_fields<K: Kind>() -> Vec<String> {
    let mut fields = crate::crd::kind::body_fields::<K>();
    if K::KEY_SCOPE == crate::kinds::STAGES {
        fields.push(snapshot::FLOW_SET.to_string());
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authentik::{ClientConfig, Token};

    fn conn() -> Connection {
        let client = AuthentikClient::new(
            ClientConfig::new("http://127.0.0.1:9", Token::new("t")),
            None,
        )
        .unwrap();
        Connection::new(client, Duration::from_secs(60), None, 1)
    }

    #[test]
    fn prune_drops_what_is_gone_and_keeps_the_default() {
        let r = Registry::default();
        let a = ConnKey::Namespaced {
            namespace: "ns".into(),
            name: "a".into(),
        };
        let b = ConnKey::Cluster { name: "b".into() };
        r.set(ConnKey::Default, conn());
        r.set(a.clone(), conn());
        r.fail(b.clone(), "no secret".into());
        let gone = r.prune(|k| *k != a && *k != b);
        assert_eq!(gone, vec![a.clone(), b.clone()]);
        assert!(r.get(&ConnKey::Default).is_some());
        assert!(r.get(&a).is_none());
        assert!(r.prune(|_| false).is_empty(), "the default stays");
    }
}
