//! End-to-end test environment: the real kube-apiserver of `testenv` (one per test binary),
//! a namespace per test, an authentik simulator per test, and the operator running
//! in-process, watching only that namespace.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod lagging_watch;

use authentik_operator::config::{Cli, Command, RunArgs};
use authentik_operator::controller;
use authentik_sim::{Profile, SimConfig, Simulator};
use clap::Parser;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::process::Output;
use std::sync::Once;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "e2e-secret-token-0123456789";
/// Drift sweeps run this often in tests.
pub const RESYNC: &str = "2s";

static CRDS: Once = Once::new();

/// Installs the checked-in CRDs once per test binary and waits until they are Established.
fn install_crds() {
    CRDS.call_once(|| {
        let cp = testenv::shared();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/crds");
        cp.run_kubectl(["apply", "-f", dir]).expect("CRDs apply");
        let mut wait: Vec<String> = vec![
            "wait".into(),
            "--for=condition=Established".into(),
            "crd".into(),
        ];
        wait.extend(
            authentik_operator::kinds::crds()
                .into_iter()
                .map(|c| c.metadata.name.unwrap_or_default()),
        );
        wait.push("--timeout=60s".into());
        cp.run_kubectl(wait).expect("CRDs Established");
    });
}

/// The namespace that stands for the operator's own, where ClusterAuthentikConnections'
/// Secrets live: one per test binary, so that the operators of concurrent tests, which all
/// see every (cluster-scoped) connection, agree on them.
pub fn operator_namespace() -> &'static str {
    static NS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NS.get_or_init(|| {
        install_crds();
        testenv::shared()
            .create_namespace("operator")
            .expect("namespace")
    })
}

pub async fn kube_config() -> kube::Config {
    let cp = testenv::shared();
    let kc = Kubeconfig::read_from(cp.kubeconfig()).expect("kubeconfig");
    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kube config")
}

pub async fn kube_client() -> Client {
    Client::try_from(kube_config().await).expect("kube client")
}

/// The operator runs on a runtime of its own, as in its own process: killing it drops every
/// task it spawned (sweeps, HTTP server, reconciles), as a crash would.
struct Operator {
    stop: CancellationToken,
    task: JoinHandle<authentik_operator::Result<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Operator {
    fn kill(mut self) {
        self.task.abort();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

pub struct Env {
    pub ns: String,
    pub client: Client,
    pub sim: Simulator,
    /// Extra `run` flags for the next operator start.
    pub extra_args: Vec<String>,
    /// The token the operator is given (the simulator accepts only `TOKEN`).
    pub operator_token: String,
    operator: Option<Operator>,
}

impl Env {
    /// A namespace, a simulator of `profile`, no operator yet.
    pub async fn new(profile: Profile) -> Env {
        install_crds();
        let cp = testenv::shared();
        let ns = cp.create_namespace("e2e").expect("namespace");
        let sim = Simulator::start(SimConfig {
            token: TOKEN.into(),
            profile,
            seed: true,
        })
        .await
        .expect("simulator");
        Env {
            ns,
            client: kube_client().await,
            sim,
            extra_args: Vec::new(),
            operator_token: TOKEN.into(),
            operator: None,
        }
    }

    /// A namespace, a simulator and the operator running.
    pub async fn started(profile: Profile) -> Env {
        let mut env = Env::new(profile).await;
        env.start_operator().await;
        env
    }

    pub fn run_args(&self) -> RunArgs {
        let mut argv: Vec<String> = [
            "authentik-operator",
            "run",
            "--authentik-url",
            &self.sim.url(),
            "--authentik-token",
            &self.operator_token,
            "--namespace",
            &self.ns,
            "--resync-interval",
            RESYNC,
            "--backoff-max",
            "2s",
            "--authentik-retries",
            "1",
            "--authentik-timeout",
            "3s",
            "--metrics-addr",
            "127.0.0.1:0",
            "--cluster-secret-namespace",
            operator_namespace(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A flag in `extra_args` replaces its default above.
        let mut i = 2;
        while i + 1 < argv.len() {
            if self.extra_args.contains(&argv[i]) {
                argv.drain(i..i + 2);
            } else {
                i += 2;
            }
        }
        argv.extend(self.extra_args.iter().cloned());
        match Cli::try_parse_from(argv).expect("operator flags").command {
            Command::Run(args) => *args,
            _ => unreachable!(),
        }
    }

    pub async fn start_operator(&mut self) {
        let client = self.client.clone();
        self.start_operator_as(client).await;
    }

    /// Starts the operator with the given identity (e.g. a ServiceAccount's token).
    pub async fn start_operator_as(&mut self, client: Client) {
        assert!(self.operator.is_none(), "operator already running");
        let stop = CancellationToken::new();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("operator runtime");
        let task = runtime.spawn(controller::run_with_client(
            self.run_args(),
            client,
            stop.clone(),
        ));
        self.operator = Some(Operator {
            stop,
            task,
            runtime: Some(runtime),
        });
    }

    /// Stops the operator cleanly (as on SIGTERM).
    pub async fn stop_operator(&mut self) {
        if let Some(mut op) = self.operator.take() {
            op.stop.cancel();
            let res = tokio::time::timeout(Duration::from_secs(60), &mut op.task)
                .await
                .expect("operator stops within 60s");
            res.expect("operator task")
                .expect("operator ran without error");
            op.kill();
        }
    }

    /// Kills the operator at once, mid-whatever (as on a crash).
    pub fn kill_operator(&mut self) {
        if let Some(op) = self.operator.take() {
            op.kill();
        }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates an object from JSON (apiVersion and kind included).
    pub async fn create<K>(&self, obj: serde_json::Value) -> K
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + Debug,
    {
        let obj: K = serde_json::from_value(obj).expect("valid object");
        self.api::<K>()
            .create(&PostParams::default(), &obj)
            .await
            .expect("create")
    }

    pub async fn delete<K>(&self, name: &str)
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.api::<K>()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }

    /// Polls until `pred` holds for the object, or panics with the last state seen.
    pub async fn wait_for<K>(&self, name: &str, what: &str, pred: impl Fn(&K) -> bool) -> K
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let api = self.api::<K>();
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let current = api.get_opt(name).await.expect("get");
            if let Some(obj) = &current
                && pred(obj)
            {
                return obj.clone();
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {name} to be {what}; last seen: {current:#?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls until the `Synced` condition has `reason`; returns its message.
    pub async fn wait_synced<K>(&self, name: &str, want: &str) -> String
    where
        K: authentik_operator::crd::kind::Kind,
    {
        let obj = self
            .wait_for::<K>(name, want, |o| reason(o, "Synced").as_deref() == Some(want))
            .await;
        obj.status()
            .and_then(|s| s.condition("Synced"))
            .map(|c| c.message.clone())
            .unwrap_or_default()
    }

    /// Polls until the object is gone.
    pub async fn wait_gone<K>(&self, name: &str)
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let api = self.api::<K>();
        let deadline = Instant::now() + Duration::from_secs(45);
        while api.get_opt(name).await.expect("get").is_some() {
            assert!(Instant::now() < deadline, "{name} still exists");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Reasons of the events about `name`, oldest first.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        let mut events: Vec<Event> = api
            .list(&ListParams::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect();
        events.sort_by_key(|e| e.metadata.creation_timestamp.clone().map(|t| t.0));
        events.into_iter().filter_map(|e| e.reason).collect()
    }

    pub async fn wait_event(&self, name: &str, reason: &str) {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let reasons = self.event_reasons(name).await;
            if reasons.iter().any(|r| r == reason) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {reason} event for {name}; events: {reasons:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// kubectl in this namespace; `stdin` is piped in when given.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let cp = testenv::shared();
        let mut cmd = cp.kubectl();
        cmd.arg("-n").arg(&self.ns).args(args);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl");
        if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
            pipe.write_all(input.as_bytes()).expect("stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// Requests that changed something in the simulator (anything but GET), oldest first.
    pub fn sim_writes(&self) -> Vec<authentik_sim::RecordedRequest> {
        self.sim
            .control()
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Stages of the simulator with this name, across all kinds.
    pub fn sim_stages_named(&self, kind: &str, name: &str) -> Vec<serde_json::Value> {
        self.sim
            .control()
            .stages(kind)
            .into_iter()
            .filter(|s| s.get("name").and_then(|n| n.as_str()) == Some(name))
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(op) = self.operator.take() {
            op.stop.cancel();
            op.kill();
        }
    }
}

/// Ready=True and observedGeneration current.
pub fn is_ready<K>(obj: &K) -> bool
where
    K: authentik_operator::crd::kind::Kind,
{
    obj.status().is_some_and(|s| {
        s.is_ready() && s.observed_generation == obj.meta().generation && s.pk.is_some()
    })
}

/// The reason of a condition, if set.
pub fn reason<K: authentik_operator::crd::kind::Kind>(obj: &K, type_: &str) -> Option<String> {
    obj.status()
        .and_then(|s| s.condition(type_))
        .map(|c| c.reason.clone())
}

pub fn profiles() -> [Profile; 3] {
    [Profile::V2023_10, Profile::V2024_4, Profile::Current]
}

/// A client of the simulator's real API, for changes "behind the operator's back".
pub fn authentik(env: &Env) -> authentik_operator::authentik::AuthentikClient {
    use authentik_operator::authentik::{AuthentikClient, ClientConfig, Token};
    AuthentikClient::new(ClientConfig::new(env.sim.url(), Token::new(TOKEN)), None).expect("client")
}

/// JSON object helper.
pub fn body(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().expect("an object")
}

/// Creates or replaces a Secret holding `token` under the key `token`.
pub async fn put_token_secret(env: &Env, namespace: &str, name: &str, token: &str) {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Patch, PatchParams};
    let api: Api<Secret> = Api::namespaced(env.client.clone(), namespace);
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name}, "stringData": {"token": token}
    });
    api.patch(
        name,
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&secret),
    )
    .await
    .expect("secret");
}

/// A second simulator, for tests with more than one authentik.
pub async fn another_sim(profile: Profile, token: &str) -> Simulator {
    Simulator::start(SimConfig {
        token: token.into(),
        profile,
        seed: true,
    })
    .await
    .expect("simulator")
}
