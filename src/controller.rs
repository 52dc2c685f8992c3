//! Wiring: one Controller per kind over the generic reconciler, the reference watches, the
//! per-kind drift sweeps, the HTTP endpoints, and a clean shutdown on SIGTERM.

use crate::authentik::{AuthentikClient, ClientConfig, RetryPolicy, Token};
use crate::caches::{Caches, Queues};
use crate::config::RunArgs;
use crate::connections::{ConnKey, Connection, Registry};
use crate::crd::refs::By;
use crate::crd::stage::Stage;
use crate::crd::stage::kind_name;
use crate::crd::{AuthentikConnection, ClusterAuthentikConnection};
use crate::error::{Error, Result};
use crate::http::{self, Health};
use crate::kinds::{self, StageKinds};
use crate::metrics::Metrics;
use crate::reconcile::connection::{self as conn_reconcile, ConnectionResource};
use crate::reconcile::kinds::{KindOps, KindRuntime};
use crate::reconcile::{self, Context, Settings, Stores};
use futures::channel::mpsc::{self, UnboundedReceiver};
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio_util::sync::CancellationToken;

/// Reads the token from the flag or the file; never logs it.
fn load_token(args: &RunArgs) -> Result<Token> {
    let token = match (&args.authentik_token, &args.authentik_token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(path)) => Token::new(std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the token file {}: {e}",
                path.display()
            ))
        })?),
        (None, None) => {
            return Err(Error::Config(
                "no authentik token: set --authentik-token-file (or AUTHENTIK_TOKEN_FILE) or AUTHENTIK_TOKEN".into(),
            ));
        }
    };
    if token.is_empty() {
        return Err(Error::Config("the authentik token is empty".into()));
    }
    Ok(token)
}

pub fn authentik_client(
    url: &str,
    args: &RunArgs,
    metrics: Arc<Metrics>,
) -> Result<AuthentikClient> {
    let mut cfg = ClientConfig::new(url.to_string(), load_token(args)?);
    cfg.timeout = args.authentik_timeout;
    cfg.retry = RetryPolicy {
        retries: args.authentik_retries,
        ..RetryPolicy::default()
    };
    cfg.insecure_skip_tls_verify = args.authentik_insecure_skip_tls_verify;
    if let Some(path) = &args.authentik_ca_file {
        cfg.ca_pem = Some(std::fs::read(path).map_err(|e| {
            Error::Config(format!("cannot read the CA file {}: {e}", path.display()))
        })?);
    }
    AuthentikClient::new(cfg, Some(metrics))
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    match namespace {
        None => Api::all(client.clone()),
        Some(ns) => Api::namespaced(client.clone(), ns),
    }
}

/// Runs the operator until `stop` is cancelled, with the Kubernetes client from the
/// environment (in-cluster, or KUBECONFIG).
pub async fn run(args: RunArgs, stop: CancellationToken) -> Result<()> {
    let client = Client::try_default().await?;
    run_with_client(args, client, stop).await
}

/// Runs the operator with a given Kubernetes client until `stop` is cancelled.
pub async fn run_with_client(args: RunArgs, client: Client, stop: CancellationToken) -> Result<()> {
    let metrics = Arc::new(Metrics::new());
    let connections = Arc::new(Registry::default());
    if let Some(url) = &args.authentik_url {
        let default = authentik_client(url, &args, metrics.clone())?;
        connections.set(
            ConnKey::Default,
            Connection::new(default, args.resync_interval, None, 0),
        );
    }
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", args.metrics_addr)))?;
    let health = Health {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let http_task = tokio::spawn(http::serve(listener, health, stop.clone()));

    if args.leader_election {
        crate::leader::run_when_leader(
            &client,
            &args,
            metrics.clone(),
            ready.clone(),
            stop.clone(),
            |lost| {
                run_controllers(
                    args.clone(),
                    client.clone(),
                    connections.clone(),
                    metrics.clone(),
                    ready.clone(),
                    lost,
                )
            },
        )
        .await?;
    } else {
        run_controllers(
            args.clone(),
            client,
            connections,
            metrics,
            ready,
            stop.clone(),
        )
        .await?;
    }
    stop.cancel();
    let _ = http_task.await;
    Ok(())
}

/// How long a stop waits for running reconciles.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// One controller per watched scope (all namespaces, or each listed one) and its queue.
type Scoped<K> = Vec<(Controller<K>, UnboundedReceiver<ObjectRef<K>>)>;

/// Controllers of one stage kind for every scope, their caches and their queues.
fn stage_controllers<K: Stage>(
    client: &Client,
    scopes: &[Option<String>],
    cfg: &controller::Config,
) -> (Scoped<K>, Caches<K>, Queues<K>) {
    let mut controllers = Vec::new();
    let mut queues = Queues::default();
    for scope in scopes {
        let (tx, rx) = mpsc::unbounded();
        let c = Controller::new(
            api::<K>(client, scope.as_deref()),
            watcher::Config::default(),
        )
        .with_config(cfg.clone());
        queues.add(scope.as_deref(), tx);
        controllers.push((c, rx));
    }
    let caches = Caches::new(controllers.iter().map(|(c, _)| c.store()).collect());
    (controllers, caches, queues)
}

/// Runs the controllers of one stage kind until `stop`.
async fn run_stage_controllers<K: Stage>(
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

/// The stage and connection controllers, their watches and the drift sweeps, until `stop`.
pub async fn run_controllers(
    args: RunArgs,
    client: Client,
    connections: Arc<Registry>,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stop: CancellationToken,
) -> Result<()> {
    let scopes = args.scopes();
    let cfg = controller::Config::default().concurrency(args.concurrency);
    // Every registered stage kind: its controllers (one per scope) with their reference
    // watches, its caches and queues for the rest of the operator, and how to run it.
    let mut wiring = Wiring {
        client: &client,
        scopes: &scopes,
        cfg: &cfg,
        kinds: Vec::new(),
        runs: Vec::new(),
    };
    kinds::each(&mut wiring);
    let Wiring {
        kinds: stage_kinds,
        runs: stage_runs,
        ..
    } = wiring;

    let conns =
        ConnectionControllers::new(&client, &scopes, &cfg, &args.cluster_secret_namespace());
    let stores = Stores {
        kinds: stage_kinds,
        connections: Caches::new(conns.namespaced.iter().map(Controller::store).collect()),
        cluster_connections: Caches::new(vec![conns.cluster.store()]),
    };

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "authentik-operator".into(),
            instance: args.identity.clone(),
        },
    );
    let settings = Settings {
        resync: args.resync_interval,
        backoff_max: args.backoff_max,
        authentik_timeout: args.authentik_timeout,
        authentik_retries: args.authentik_retries,
        cluster_secret_namespace: args.cluster_secret_namespace(),
        ..Settings::default()
    };
    let ctx = Arc::new(Context::new(
        client,
        connections,
        recorder,
        metrics,
        stores.clone(),
        settings,
    ));

    // A first sweep before the controllers start, so their initial reconciles read the
    // snapshot instead of sending one GET per resource; bounded, so an authentik that does
    // not answer cannot hold up the controllers (deletes included) for long.
    let _ = tokio::time::timeout(
        ctx.settings.authentik_timeout,
        crate::sweep::sweep_all(&ctx),
    )
    .await;

    let sweeps = tokio::spawn(crate::sweep::sweep_loop(ctx.clone(), stop.clone()));
    let readiness = tokio::spawn({
        let stores = stores.clone();
        async move {
            stores.synced().await;
            http::mark_ready(&ready);
        }
    });

    let connections_run = {
        let (ctx, stop) = (ctx.clone(), stop.clone());
        let enabled = args.enable_connections;
        async move {
            if enabled {
                conns.run(ctx, stop).await;
            }
        }
    };
    tracing::info!(namespaces = ?args.namespaces, "controllers started");
    let all = async {
        futures::join!(
            futures::future::join_all(
                stage_runs
                    .into_iter()
                    .map(|run| run(ctx.clone(), stop.clone()))
            ),
            connections_run
        )
    };
    // A stop lets running reconciles finish, for a while: a reconcile waiting on an API
    // server or an authentik that does not answer must not hold the process. Dropping the
    // controllers aborts what still runs; the finalizers make that safe.
    let grace = async {
        stop.cancelled().await;
        tokio::time::sleep(STOP_GRACE).await;
    };
    tokio::select! {
        _ = all => {}
        () = grace => tracing::warn!("controllers did not stop within {STOP_GRACE:?}; stopping them"),
    }
    sweeps.abort();
    readiness.abort();
    tracing::info!("controllers stopped");
    Ok(())
}

/// The controllers of the two connection kinds, with their Secret watches.
struct ConnectionControllers {
    /// One per watched scope.
    namespaced: Vec<Controller<AuthentikConnection>>,
    cluster: Controller<ClusterAuthentikConnection>,
}

impl ConnectionControllers {
    /// Connections re-read their Secret when it changes. The watch is metadata-only
    /// (Api<PartialObjectMeta<_>>): the operator never caches Secret data it does not use.
    /// Secrets are watched only where the operator is granted them: each listed namespace,
    /// and the cluster connections' one namespace. With all namespaces watched, a namespaced
    /// connection re-reads its Secret every resync interval instead (no cluster-wide access).
    fn new(
        client: &Client,
        scopes: &[Option<String>],
        cfg: &controller::Config,
        cluster_ns: &str,
    ) -> Self {
        let wc = watcher::Config::default();
        let secrets = |ns: &str| Api::<PartialObjectMeta<Secret>>::namespaced(client.clone(), ns);
        let namespaced = scopes
            .iter()
            .map(|scope| {
                let c = Controller::new(
                    api::<AuthentikConnection>(client, scope.as_deref()),
                    wc.clone(),
                )
                .with_config(cfg.clone());
                let Some(ns) = scope else { return c };
                let store = c.store();
                let cluster_ns = cluster_ns.to_string();
                c.watches(secrets(ns), wc.clone(), move |s| {
                    connections_using(&store, &s, &cluster_ns)
                })
            })
            .collect();
        let cluster = Controller::new(
            Api::<ClusterAuthentikConnection>::all(client.clone()),
            wc.clone(),
        )
        .with_config(cfg.clone());
        let (store, own) = (cluster.store(), cluster_ns.to_string());
        let cluster = cluster.watches(secrets(cluster_ns), wc, move |s| {
            connections_using(&store, &s, &own)
        });
        ConnectionControllers {
            namespaced,
            cluster,
        }
    }

    async fn run(self, ctx: Arc<Context>, stop: CancellationToken) {
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

async fn drive<S, T, E>(stream: S)
where
    S: Stream<Item = Result<T, E>>,
    E: std::fmt::Display,
{
    stream
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller");
            }
        })
        .await;
}

/// The `K` resources (in `t`'s namespace) whose `ref` fields name `t`.
fn referrers_in<K: Stage, T: Stage>(caches: &Caches<K>, t: &T) -> Vec<ObjectRef<K>> {
    let ns = t.namespace();
    let name = By::Ref(t.name_any());
    let kind = kind_name::<T>();
    caches
        .state()
        .iter()
        .filter(|k| k.namespace() == ns)
        .filter(|k| {
            k.references().iter().any(|f| {
                f.target.custom_resource_kind() == Some(kind)
                    && f.values.iter().flatten().any(|v| v.as_ref() == Some(&name))
            })
        })
        .map(|k| ObjectRef::from_obj(k.as_ref()))
        .collect()
}

/// The `K` resources that `t`'s `ref` fields name.
fn referenced_by<K: Stage, T: Stage>(t: &T) -> Vec<ObjectRef<K>> {
    let ns = t.namespace().unwrap_or_default();
    let kind = kind_name::<K>();
    t.references()
        .into_iter()
        .filter(|f| f.target.custom_resource_kind() == Some(kind))
        .flat_map(|f| f.values.unwrap_or_default())
        .filter_map(|v| match v {
            Some(By::Ref(name)) => Some(ObjectRef::new(&name).within(&ns)),
            _ => None,
        })
        .collect()
}

/// Builds each registered stage kind's controllers (see [`kinds::each`]).
struct Wiring<'a> {
    client: &'a Client,
    scopes: &'a [Option<String>],
    cfg: &'a controller::Config,
    kinds: Vec<Arc<dyn KindOps>>,
    runs: Vec<StageRun>,
}

/// Runs one kind's controllers until the token is cancelled.
type StageRun = Box<dyn FnOnce(Arc<Context>, CancellationToken) -> BoxFuture<'static, ()> + Send>;

impl StageKinds for Wiring<'_> {
    fn visit<K: Stage>(&mut self) {
        let (scoped, caches, queues) = stage_controllers::<K>(self.client, self.scopes, self.cfg);
        let scoped: Scoped<K> = scoped
            .into_iter()
            .zip(self.scopes)
            .map(|((c, rx), scope)| {
                let mut watches = ReferenceWatches {
                    controller: Some(c),
                    caches: caches.clone(),
                    api_client: self.client,
                    scope: scope.as_deref(),
                };
                kinds::each(&mut watches);
                (watches.controller.expect("put back by every visit"), rx)
            })
            .collect();
        self.kinds.push(Arc::new(KindRuntime { caches, queues }));
        self.runs.push(Box::new(move |ctx, stop| {
            Box::pin(run_stage_controllers::<K>(scoped, ctx, stop))
        }));
    }
}

/// Adds to a `K` controller the watches of the kinds it references or is referenced by.
struct ReferenceWatches<'a, K: Stage> {
    controller: Option<Controller<K>>,
    caches: Caches<K>,
    api_client: &'a Client,
    scope: Option<&'a str>,
}

impl<K: Stage> StageKinds for ReferenceWatches<'_, K> {
    fn visit<T: Stage>(&mut self) {
        let Some(mut c) = self.controller.take() else {
            return;
        };
        let wc = watcher::Config::default();
        if K::REFERENCES.contains(&kind_name::<T>()) {
            // A T resource getting (or changing) its pk re-triggers the K resources that
            // `ref` it.
            let caches = self.caches.clone();
            c = c.watches(
                api::<T>(self.api_client, self.scope),
                wc.clone(),
                move |t: T| referrers_in::<K, T>(&caches, &t),
            );
        }
        if T::REFERENCES.contains(&kind_name::<K>()) {
            // A referrer changing or going away re-triggers the K resources it named (a
            // delete waits while one is referenced).
            c = c.watches(api::<T>(self.api_client, self.scope), wc, |t: T| {
                referenced_by::<K, T>(&t)
            });
        }
        self.controller = Some(c);
    }
}
