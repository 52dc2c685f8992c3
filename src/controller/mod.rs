//! Wiring: the controllers of every registered stage kind (`stages`) and of the connections
//! (`connections`), the drift sweeps, the HTTP endpoints, and a clean shutdown on SIGTERM.

mod connections;
mod scoped;
mod stages;
mod wakes;
mod watch;

use crate::authentik::AuthentikClient;
use crate::caches::Caches;
use crate::config::RunArgs;
use crate::connections::{ConnKey, Connection, Registry};
use crate::error::{Error, Result};
use crate::http::{self, Health};
use crate::metrics::Metrics;
use crate::reconcile::kube_ops::Recorder;
use crate::reconcile::{Context, Settings, Stores};
use connections::ConnectionControllers;
use kube::Client;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::Reporter;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio_util::sync::CancellationToken;

pub fn authentik_client(
    url: &str,
    args: &RunArgs,
    metrics: Arc<Metrics>,
) -> Result<AuthentikClient> {
    AuthentikClient::new(args.authentik.client_config(url)?, Some(metrics))
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
    if let Some(url) = &args.authentik.authentik_url {
        let default = authentik_client(url, &args, metrics.clone())?;
        connections.set(
            ConnKey::Default,
            Connection::new(default, args.resync_interval(), None, 0),
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
        // Without election the one replica is the one that reconciles: it leads.
        metrics.leader.set(1);
        let result = run_controllers(
            args.clone(),
            client,
            connections,
            metrics.clone(),
            ready,
            stop.clone(),
        )
        .await;
        metrics.leader.set(0);
        result?;
    }
    stop.cancel();
    let _ = http_task.await;
    Ok(())
}

/// How long a stop waits for running reconciles.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

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
    let (touched, touches) = futures::channel::mpsc::unbounded();
    let (stage_kinds, stage_runs) = stages::build(&client, &scopes, &cfg, &touched);
    drop(touched);

    let conns =
        ConnectionControllers::new(&client, &scopes, &cfg, &args.cluster_secret_namespace());
    let stores = Stores {
        kinds: stage_kinds,
        connections: Caches::new(conns.namespaced.iter().map(Controller::store).collect()),
        cluster_connections: Caches::new(vec![conns.cluster.store()]),
        connection_queues: conns.namespaced_queues.clone(),
        cluster_connection_queue: conns.cluster_queue.clone(),
    };

    let ctx = context(&args, client, connections, metrics, stores.clone());

    // A first sweep before the controllers start, so their initial reconciles read the
    // snapshot instead of sending one GET per resource; bounded, so an authentik that does
    // not answer cannot hold up the controllers (deletes included) for long.
    let _ = tokio::time::timeout(
        ctx.settings.authentik_timeout,
        crate::sweep::sweep_all(&ctx),
    )
    .await;

    let wakes = tokio::spawn(wakes::wake(touches, stores.clone()));
    let sweeps = tokio::spawn(crate::sweep::sweep_loop(ctx.clone(), stop.clone()));
    let follower = tokio::spawn(crate::follower::follow_loop(
        ctx.clone(),
        args.event_interval,
        stop.clone(),
    ));
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
    wakes.abort();
    follower.abort();
    readiness.abort();
    tracing::info!("controllers stopped");
    Ok(())
}

/// What every reconcile shares, from the command line.
fn context(
    args: &RunArgs,
    client: Client,
    connections: Arc<Registry>,
    metrics: Arc<Metrics>,
    stores: Stores,
) -> Arc<Context> {
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "authentik-operator".into(),
            instance: args.identity.clone(),
        },
    );
    let settings = Settings {
        resync: args.resync_interval(),
        probe: if args.event_interval.is_zero() {
            args.resync_interval()
        } else {
            args.event_interval.min(args.resync_interval())
        },
        backoff_max: args.backoff_max,
        authentik_timeout: args.authentik.authentik_timeout,
        authentik_retries: args.authentik.authentik_retries,
        cluster_secret_namespace: args.cluster_secret_namespace(),
        ..Settings::default()
    };
    Arc::new(Context::new(
        client,
        connections,
        recorder,
        metrics,
        stores,
        settings,
    ))
}
