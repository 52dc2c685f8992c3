//! Wiring: one Controller per kind over the generic reconciler, the reference watches, the
//! per-kind drift sweeps, the HTTP endpoints, and a clean shutdown on SIGTERM.

use crate::authentik::{AuthentikClient, ClientConfig, RetryPolicy, Token};
use crate::config::RunArgs;
use crate::connections::reconcile::{self as conn_reconcile, ConnectionResource};
use crate::connections::{ConnKey, Connection, Registry};
use crate::crd::refs::By;
use crate::crd::{AuthentikConnection, ClusterAuthentikConnection};
use crate::crd::{IdentificationStage, PasswordStage, UserLoginStage};
use crate::error::{Error, Result};
use crate::http::{self, Health};
use crate::metrics::Metrics;
use crate::reconcile::context::Triggers;
use crate::reconcile::{self, Context, Settings, Stores};
use crate::stage::Stage;
use futures::channel::mpsc;
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
        (Some(t), _) => Token::new(t.clone()),
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

fn api<K>(client: &Client, namespace: &str) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    if namespace.is_empty() {
        Api::all(client.clone())
    } else {
        Api::namespaced(client.clone(), namespace)
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

/// The stage and connection controllers, their watches and the drift sweeps, until `stop`.
pub async fn run_controllers(
    args: RunArgs,
    client: Client,
    connections: Arc<Registry>,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stop: CancellationToken,
) -> Result<()> {
    let ns = args.namespace.as_str();
    let wc = watcher::Config::default();
    let cfg = controller::Config::default().concurrency(args.concurrency);

    let (pw_tx, pw_rx) = mpsc::unbounded::<ObjectRef<PasswordStage>>();
    let (id_tx, id_rx) = mpsc::unbounded::<ObjectRef<IdentificationStage>>();
    let (ul_tx, ul_rx) = mpsc::unbounded::<ObjectRef<UserLoginStage>>();

    let pw =
        Controller::new(api::<PasswordStage>(&client, ns), wc.clone()).with_config(cfg.clone());
    let id = Controller::new(api::<IdentificationStage>(&client, ns), wc.clone())
        .with_config(cfg.clone());
    let ul =
        Controller::new(api::<UserLoginStage>(&client, ns), wc.clone()).with_config(cfg.clone());
    let stores = Stores {
        password: pw.store(),
        identification: id.store(),
        user_login: ul.store(),
    };

    // A PasswordStage getting (or changing) its pk re-triggers the stages that `ref` it; a
    // referrer going away re-triggers a PasswordStage whose delete waits for it.
    let id_store = stores.identification.clone();
    let id = id.watches(
        api::<PasswordStage>(&client, ns),
        wc.clone(),
        move |pw: PasswordStage| referrers_of(&id_store, &pw),
    );
    let pw = pw.watches(
        api::<IdentificationStage>(&client, ns),
        wc.clone(),
        |id: IdentificationStage| referenced_password_stages(&id),
    );

    // Connections re-read their Secret when it changes. The watch is metadata-only: the
    // operator never caches Secret data it does not use.
    let conn = Controller::new(api::<AuthentikConnection>(&client, ns), wc.clone())
        .with_config(cfg.clone());
    let conn_store = conn.store();
    let cluster_conn = Controller::new(
        Api::<ClusterAuthentikConnection>::all(client.clone()),
        wc.clone(),
    )
    .with_config(cfg);
    let cluster_store = cluster_conn.store();
    let (conn, cluster_conn) = if args.enable_connections {
        // Api<PartialObjectMeta<_>> makes kube request metadata only.
        let secrets = || api::<PartialObjectMeta<Secret>>(&client, ns);
        (
            conn.watches(secrets(), wc.clone(), move |s| {
                connections_using(&conn_store, &s)
            }),
            cluster_conn.watches(secrets(), wc.clone(), move |s| {
                connections_using(&cluster_store, &s)
            }),
        )
    } else {
        (conn, cluster_conn)
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
        ..Settings::default()
    };
    let triggers = Triggers {
        password: pw_tx,
        identification: id_tx,
        user_login: ul_tx,
    };
    let ctx = Arc::new(Context::new(
        client,
        connections,
        recorder,
        metrics,
        stores.clone(),
        settings,
        triggers,
    ));

    // A first sweep before the controllers start, so their initial reconciles read the
    // snapshot instead of sending one GET per resource.
    crate::sweep::sweep_all(&ctx).await;

    let sweeps = tokio::spawn(crate::sweep::sweep_loop(ctx.clone(), stop.clone()));
    let readiness = tokio::spawn({
        let stores = stores.clone();
        async move {
            synced(&stores.password).await;
            synced(&stores.identification).await;
            synced(&stores.user_login).await;
            http::mark_ready(&ready);
        }
    });

    let shutdown = || stop.clone().cancelled_owned();
    let pw_run = drive(pw.reconcile_on(pw_rx).graceful_shutdown_on(shutdown()).run(
        reconcile::reconcile::<PasswordStage>,
        reconcile::error_policy::<PasswordStage>,
        ctx.clone(),
    ));
    let id_run = drive(id.reconcile_on(id_rx).graceful_shutdown_on(shutdown()).run(
        reconcile::reconcile::<IdentificationStage>,
        reconcile::error_policy::<IdentificationStage>,
        ctx.clone(),
    ));
    let ul_run = drive(ul.reconcile_on(ul_rx).graceful_shutdown_on(shutdown()).run(
        reconcile::reconcile::<UserLoginStage>,
        reconcile::error_policy::<UserLoginStage>,
        ctx.clone(),
    ));
    let connections_run = {
        let ctx = ctx.clone();
        let enabled = args.enable_connections;
        async move {
            if !enabled {
                return;
            }
            let conn_run = drive(conn.graceful_shutdown_on(shutdown()).run(
                conn_reconcile::reconcile::<AuthentikConnection>,
                conn_reconcile::error_policy::<AuthentikConnection>,
                ctx.clone(),
            ));
            let cluster_run = drive(cluster_conn.graceful_shutdown_on(shutdown()).run(
                conn_reconcile::reconcile::<ClusterAuthentikConnection>,
                conn_reconcile::error_policy::<ClusterAuthentikConnection>,
                ctx,
            ));
            futures::join!(conn_run, cluster_run);
        }
    };
    tracing::info!("controllers started");
    futures::join!(pw_run, id_run, ul_run, connections_run);
    sweeps.abort();
    readiness.abort();
    tracing::info!("controllers stopped");
    Ok(())
}

/// Waits until a store has its initial list. A fresh wait each time round: a
/// `wait_until_ready` future polled before the first list was seen not to wake up.
async fn synced<K: kube::Resource + Clone>(store: &Store<K>)
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    // Ok(Err(_)): the writer is gone (shutting down); nothing left to wait for.
    while tokio::time::timeout(
        std::time::Duration::from_millis(250),
        store.wait_until_ready(),
    )
    .await
    .is_err()
    {}
}

/// Connections whose token or CA lives in `secret`.
fn connections_using<C: ConnectionResource>(
    store: &Store<C>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<C>> {
    let name = secret.name_any();
    let ns = secret.namespace();
    store
        .state()
        .iter()
        .filter(|c| {
            let s = c.settings();
            let refs = std::iter::once(&s.token_secret_ref)
                .chain(s.ca_bundle.as_ref().and_then(|b| b.secret_ref.as_ref()));
            refs.into_iter()
                .any(|r| r.name == name && c.source_namespace(r) == ns)
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

fn referrers_of(
    store: &Store<IdentificationStage>,
    pw: &PasswordStage,
) -> Vec<ObjectRef<IdentificationStage>> {
    let ns = pw.namespace();
    let name = By::Ref(pw.name_any());
    store
        .state()
        .iter()
        .filter(|id| id.namespace() == ns)
        .filter(|id| {
            id.references()
                .iter()
                .any(|f| f.values.iter().flatten().any(|v| v.as_ref() == Some(&name)))
        })
        .map(|id| ObjectRef::from_obj(id.as_ref()))
        .collect()
}

fn referenced_password_stages(id: &IdentificationStage) -> Vec<ObjectRef<PasswordStage>> {
    let ns = id.namespace().unwrap_or_default();
    id.references()
        .into_iter()
        .filter(|f| f.target.custom_resource_kind() == Some("PasswordStage"))
        .flat_map(|f| f.values.unwrap_or_default())
        .filter_map(|v| match v {
            Some(By::Ref(name)) => Some(ObjectRef::new(&name).within(&ns)),
            _ => None,
        })
        .collect()
}
