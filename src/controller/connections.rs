//! The controllers of the two connection kinds and their Secret watches.

use super::scoped::{api, drive};
use super::watch::watch;
use crate::caches::Queues;
use crate::crd::{AuthentikConnection, ClusterAuthentikConnection};
use crate::reconcile::Context;
use crate::reconcile::connection::{self as conn_reconcile, ConnectionResource};
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The controllers of the two connection kinds, with their Secret watches.
pub(super) struct ConnectionControllers {
    /// One per watched scope.
    pub(super) namespaced: Vec<Controller<AuthentikConnection>>,
    pub(super) cluster: Controller<ClusterAuthentikConnection>,
    /// Their queues, for what the operator learns between two of their checks (the event
    /// log cannot be read).
    pub(super) namespaced_queues: Queues<AuthentikConnection>,
    pub(super) cluster_queue: Queues<ClusterAuthentikConnection>,
}

impl ConnectionControllers {
    /// Connections re-read their Secret when it changes. The watch is metadata-only
    /// (Api<PartialObjectMeta<_>>): the operator never caches Secret data it does not use.
    /// Secrets are watched only where the operator is granted them: each listed namespace,
    /// and the cluster connections' one namespace. With all namespaces watched, a namespaced
    /// connection re-reads its Secret every resync interval instead (no cluster-wide access).
    pub(super) fn new(
        client: &Client,
        scopes: &[Option<String>],
        cfg: &controller::Config,
        cluster_ns: &str,
    ) -> Self {
        let wc = watcher::Config::default();
        let secrets = |ns: &str| Api::<PartialObjectMeta<Secret>>::namespaced(client.clone(), ns);
        let mut namespaced_queues = Queues::default();
        let namespaced = scopes
            .iter()
            .map(|scope| {
                let (tx, rx) = mpsc::unbounded();
                namespaced_queues.add(scope.as_deref(), tx);
                let c = Controller::new(
                    api::<AuthentikConnection>(client, scope.as_deref()),
                    wc.clone(),
                )
                .with_config(cfg.clone())
                .reconcile_on(rx);
                let Some(ns) = scope else { return c };
                let store = c.store();
                let cluster_ns = cluster_ns.to_string();
                let changes = watch(secrets(ns), wc.clone()).touched_objects();
                c.watches_stream(changes, move |s| connections_using(&store, &s, &cluster_ns))
            })
            .collect();
        let (tx, rx) = mpsc::unbounded();
        let mut cluster_queue = Queues::default();
        cluster_queue.add(None, tx);
        let cluster = Controller::new(
            Api::<ClusterAuthentikConnection>::all(client.clone()),
            wc.clone(),
        )
        .with_config(cfg.clone())
        .reconcile_on(rx);
        let (store, own) = (cluster.store(), cluster_ns.to_string());
        let changes = watch(secrets(cluster_ns), wc).touched_objects();
        let cluster = cluster.watches_stream(changes, move |s| connections_using(&store, &s, &own));
        ConnectionControllers {
            namespaced,
            cluster,
            namespaced_queues,
            cluster_queue,
        }
    }

    pub(super) async fn run(self, ctx: Arc<Context>, stop: CancellationToken) {
        let shutdown = || stop.clone().cancelled_owned();
        let namespaced = futures::future::join_all(self.namespaced.into_iter().map(|c| {
            drive(c.graceful_shutdown_on(shutdown()).run(
                conn_reconcile::reconcile::<AuthentikConnection>,
                conn_reconcile::error_policy::<AuthentikConnection>,
                ctx.clone(),
            ))
        }));
        let cluster = drive(self.cluster.graceful_shutdown_on(shutdown()).run(
            conn_reconcile::reconcile::<ClusterAuthentikConnection>,
            conn_reconcile::error_policy::<ClusterAuthentikConnection>,
            ctx.clone(),
        ));
        futures::join!(namespaced, cluster);
    }
}

/// Connections whose token or CA lives in `secret`.
fn connections_using<C: ConnectionResource>(
    store: &Store<C>,
    secret: &PartialObjectMeta<Secret>,
    cluster_ns: &str,
) -> Vec<ObjectRef<C>> {
    let name = secret.name_any();
    let ns = secret.namespace().unwrap_or_default();
    store
        .state()
        .iter()
        .filter(|c| {
            let s = c.settings();
            let refs = std::iter::once(&s.token_secret_ref)
                .chain(s.ca_bundle.as_ref().and_then(|b| b.secret_ref.as_ref()));
            refs.into_iter()
                .any(|r| r.name == name && c.source_namespace(r, cluster_ns).as_ref() == Ok(&ns))
        })
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}
