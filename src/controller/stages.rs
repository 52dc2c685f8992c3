//! The controllers of every registered stage kind, one per watched scope, built from the
//! registry; each tells what its changes wake in other kinds (wakes.rs).

use super::scoped::{api, drive};
use super::wakes::{Tap, Touched};
use super::watch::watch;
use crate::caches::{Caches, Queues};
use crate::crd::kind::Kind;
use crate::kinds::{self, KindVisitor};
use crate::reconcile::kinds::{KindOps, KindRuntime};
use crate::reconcile::{self, Context};
use futures::TryStreamExt;
use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, ResourceExt};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// kubectl's annotation holding the last applied manifest.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One controller per watched scope (all namespaces, or each listed one) and its queue.
pub(super) type Scoped<K> = Vec<(Controller<K>, UnboundedReceiver<ObjectRef<K>>)>;

/// Controllers of one stage kind for every scope, their caches and their queues.
fn stage_controllers<K: Kind>(
    client: &Client,
    scopes: &[Option<String>],
    cfg: &controller::Config,
    touched: &UnboundedSender<Touched>,
) -> (Scoped<K>, Caches<K>, Queues<K>) {
    let mut controllers = Vec::new();
    let mut queues = Queues::default();
    for scope in scopes {
        let (tx, rx) = mpsc::unbounded();
        // The cache holds what the operator reads: not the managed fields, which are about
        // as large as the rest of a resource and never looked at, nor kubectl's copy of the
        // last applied manifest (a second spec).
        let writer = reflector::store::Writer::<K>::default();
        let reader = writer.as_reader();
        let watch = watch(
            api::<K>(client, scope.as_deref()),
            watcher::Config::default(),
        )
        .map_ok(|event| {
            event.modify(|o| {
                o.managed_fields_mut().clear();
                o.annotations_mut().remove(LAST_APPLIED);
            })
        });
        // Told after the cache applied each change (see wakes.rs).
        let mut tap = Tap::<K>::new(touched.clone());
        let stream = reflector::reflector(writer, watch)
            .inspect_ok(move |event| tap.seen(event))
            .applied_objects();
        let c = Controller::for_stream(stream, reader).with_config(cfg.clone());
        queues.add(scope.as_deref(), tx);
        controllers.push((c, rx));
    }
    let caches = Caches::new(controllers.iter().map(|(c, _)| c.store()).collect());
    (controllers, caches, queues)
}

/// Runs the controllers of one stage kind until `stop`.
async fn run_stage_controllers<K: Kind>(
    scoped: Scoped<K>,
    ctx: Arc<Context>,
    stop: CancellationToken,
) {
    let runs = scoped.into_iter().map(|(c, rx)| {
        drive(
            c.reconcile_on(rx)
                .graceful_shutdown_on(stop.clone().cancelled_owned())
                .run(
                    reconcile::reconcile::<K>,
                    reconcile::error_policy::<K>,
                    ctx.clone(),
                ),
        )
    });
    futures::future::join_all(runs).await;
}

/// Every registered stage kind's controllers (see [`kinds::each`]): what the rest of the
/// operator reaches each kind through, and how to run each.
pub(super) fn build(
    client: &Client,
    scopes: &[Option<String>],
    cfg: &controller::Config,
    touched: &UnboundedSender<Touched>,
) -> (Vec<Arc<dyn KindOps>>, Vec<StageRun>) {
    let mut wiring = Wiring {
        client,
        scopes,
        cfg,
        touched,
        kinds: Vec::new(),
        runs: Vec::new(),
    };
    kinds::each(&mut wiring);
    (wiring.kinds, wiring.runs)
}

struct Wiring<'a> {
    client: &'a Client,
    scopes: &'a [Option<String>],
    cfg: &'a controller::Config,
    touched: &'a UnboundedSender<Touched>,
    kinds: Vec<Arc<dyn KindOps>>,
    runs: Vec<StageRun>,
}

/// Runs one kind's controllers until the token is cancelled.
pub(super) type StageRun =
    Box<dyn FnOnce(Arc<Context>, CancellationToken) -> BoxFuture<'static, ()> + Send>;

impl KindVisitor for Wiring<'_> {
    fn visit<K: Kind>(&mut self) {
        let (scoped, caches, queues) =
            stage_controllers::<K>(self.client, self.scopes, self.cfg, self.touched);
        let scoped: Scoped<K> = scoped
            .into_iter()
            .zip(self.scopes)
            .map(|((c, rx), scope)| (secret_watch(c, &caches, self.client, scope.as_deref()), rx))
            .collect();
        self.kinds.push(Arc::new(KindRuntime { caches, queues }));
        self.runs.push(Box::new(move |ctx, stop| {
            Box::pin(run_stage_controllers::<K>(scoped, ctx, stop))
        }));
    }
}

/// For a kind with write-only fields, in a namespace the operator was granted Secrets in (a
/// listed namespace): a change of a Secret re-triggers the resources that read it, so a new
/// value is sent at once. Metadata only: no Secret data is cached. Elsewhere (all namespaces,
/// with no cluster-wide access to Secrets) the sweep re-reads them every interval.
fn secret_watch<K: Kind>(
    c: Controller<K>,
    caches: &Caches<K>,
    client: &Client,
    scope: Option<&str>,
) -> Controller<K> {
    let Some(ns) = scope.filter(|_| !K::SECRETS.is_empty()) else {
        return c;
    };
    let secrets = kube::Api::<PartialObjectMeta<Secret>>::namespaced(client.clone(), ns);
    let caches = caches.clone();
    let changes = watch(secrets, watcher::Config::default()).touched_objects();
    c.watches_stream(changes, move |secret| readers_of::<K>(&caches, &secret))
}

/// The `K` resources whose write-only fields read `secret`.
fn readers_of<K: Kind>(
    caches: &Caches<K>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<K>> {
    let (ns, name) = (secret.namespace(), secret.name_any());
    caches
        .state()
        .iter()
        .filter(|k| k.namespace() == ns)
        .filter(|k| {
            let spec = k.spec_json();
            K::SECRETS.iter().any(|(field, _)| {
                spec.get(*field)
                    .and_then(|r| r.get("name"))
                    .and_then(|n| n.as_str())
                    == Some(name.as_str())
            })
        })
        .map(|k| ObjectRef::from_obj(k.as_ref()))
        .collect()
}
