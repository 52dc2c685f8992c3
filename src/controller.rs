//! Wiring: one Controller per kind over the generic reconciler, the reference watches, the
//! per-kind drift sweeps, the HTTP endpoints, and a clean shutdown on SIGTERM.

use crate::authentik::wire::pk_of;
use crate::authentik::{AuthentikClient, ClientConfig, RetryPolicy, Token};
use crate::config::RunArgs;
use crate::crd::refs::By;
use crate::crd::{IdentificationStage, PasswordStage, StageStatus, UserLoginStage};
use crate::error::{Error, Result};
use crate::http::{self, Health};
use crate::metrics::{ConditionLabels, Metrics};
use crate::reconcile::{self, Context, Settings, Stores, context::kind_name};
use crate::stage::Stage;
use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use kube::api::Api;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::collections::HashMap;
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

pub fn authentik_client(args: &RunArgs, metrics: Arc<Metrics>) -> Result<AuthentikClient> {
    let mut cfg = ClientConfig::new(args.authentik_url.clone(), load_token(args)?);
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

fn api<K: Stage>(client: &Client, namespace: &str) -> Api<K> {
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
    let authentik = authentik_client(&args, metrics.clone())?;
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
        crate::leader::run_when_leader(&client, &args, metrics.clone(), stop.clone(), |lost| {
            run_controllers(
                args.clone(),
                client.clone(),
                authentik.clone(),
                metrics.clone(),
                ready.clone(),
                lost,
            )
        })
        .await?;
    } else {
        run_controllers(
            args.clone(),
            client,
            authentik,
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

/// The three controllers, their reference watches and the drift sweeps, until `stop`.
pub async fn run_controllers(
    args: RunArgs,
    client: Client,
    authentik: AuthentikClient,
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
    let ul = Controller::new(api::<UserLoginStage>(&client, ns), wc.clone()).with_config(cfg);
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
        wc,
        |id: IdentificationStage| referenced_password_stages(&id),
    );

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
        ..Settings::default()
    };
    let ctx = Arc::new(Context::new(
        client,
        authentik,
        recorder,
        metrics,
        stores.clone(),
        settings,
    ));

    // A first sweep before the controllers start, so their initial reconciles read the
    // snapshot instead of sending one GET per resource.
    sweep_once::<PasswordStage>(&ctx, &stores.password, &pw_tx).await;
    sweep_once::<IdentificationStage>(&ctx, &stores.identification, &id_tx).await;
    sweep_once::<UserLoginStage>(&ctx, &stores.user_login, &ul_tx).await;

    let sweeps = tokio::spawn(sweep_loop(
        ctx.clone(),
        stores.clone(),
        (pw_tx, id_tx, ul_tx),
        stop.clone(),
    ));
    let readiness = tokio::spawn({
        let stores = stores.clone();
        async move {
            let synced = stores.password.wait_until_ready().await.is_ok()
                && stores.identification.wait_until_ready().await.is_ok()
                && stores.user_login.wait_until_ready().await.is_ok();
            if synced {
                http::mark_ready(&ready);
            }
        }
    });

    let shutdown = stop.clone();
    let pw_run = drive(
        pw.reconcile_on(pw_rx)
            .graceful_shutdown_on(shutdown.clone().cancelled_owned())
            .run(
                reconcile::reconcile::<PasswordStage>,
                reconcile::error_policy::<PasswordStage>,
                ctx.clone(),
            ),
    );
    let id_run = drive(
        id.reconcile_on(id_rx)
            .graceful_shutdown_on(shutdown.clone().cancelled_owned())
            .run(
                reconcile::reconcile::<IdentificationStage>,
                reconcile::error_policy::<IdentificationStage>,
                ctx.clone(),
            ),
    );
    let ul_run = drive(
        ul.reconcile_on(ul_rx)
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(
                reconcile::reconcile::<UserLoginStage>,
                reconcile::error_policy::<UserLoginStage>,
                ctx.clone(),
            ),
    );
    tracing::info!("controllers started");
    futures::join!(pw_run, id_run, ul_run);
    sweeps.abort();
    readiness.abort();
    tracing::info!("controllers stopped");
    Ok(())
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

type Triggers = (
    mpsc::UnboundedSender<ObjectRef<PasswordStage>>,
    mpsc::UnboundedSender<ObjectRef<IdentificationStage>>,
    mpsc::UnboundedSender<ObjectRef<UserLoginStage>>,
);

async fn sweep_loop(
    ctx: Arc<Context>,
    stores: Stores,
    triggers: Triggers,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(ctx.settings.resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; the first sweep already ran
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        sweep_once::<PasswordStage>(&ctx, &stores.password, &triggers.0).await;
        sweep_once::<IdentificationStage>(&ctx, &stores.identification, &triggers.1).await;
        sweep_once::<UserLoginStage>(&ctx, &stores.user_login, &triggers.2).await;
    }
}

/// One paginated list of a kind; every resource whose stage changed or vanished since the
/// last list is reconciled at once. Resources in sync cost nothing more.
async fn sweep_once<K: Stage>(
    ctx: &Context,
    store: &Store<K>,
    trigger: &mpsc::UnboundedSender<ObjectRef<K>>,
) {
    let kind = kind_name::<K>();
    let listed = match ctx.authentik.list_all(K::ENDPOINT, &[]).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(kind, error = %e, "drift sweep failed; next attempt at the next interval");
            return;
        }
    };
    let objects: HashMap<String, serde_json::Value> = listed
        .into_iter()
        .filter_map(|o| pk_of(&o).map(str::to_string).map(|pk| (pk, o)))
        .collect();
    let changed = ctx.snapshot::<K>().replace(objects);
    let mut ready = 0;
    let mut not_ready = 0;
    for obj in store.state() {
        let status: Option<&StageStatus> = obj.status();
        match status.map(StageStatus::is_ready) {
            Some(true) => ready += 1,
            _ => not_ready += 1,
        }
        let pk = status.and_then(|s| s.pk.as_deref());
        let gone = pk.is_some_and(|pk| ctx.snapshot::<K>().get(pk).is_none());
        if pk.is_some_and(|pk| changed.contains(pk)) || gone {
            let _ = trigger.unbounded_send(ObjectRef::from_obj(obj.as_ref()));
        }
    }
    for (condition, n) in [("ready", ready), ("not_ready", not_ready)] {
        ctx.metrics
            .resources
            .get_or_create(&ConditionLabels {
                kind: kind.to_string(),
                condition: condition.to_string(),
            })
            .set(n);
    }
}
