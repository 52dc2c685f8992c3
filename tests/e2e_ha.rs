//! High availability with the real binary: two operator processes with leader election on a
//! Lease of the real apiserver. Only the leader talks to authentik; when it is killed the
//! other takes over within the lease duration and nothing is duplicated. Also covers what
//! only the binary shows: the token from a file, /metrics, /readyz, and a clean SIGTERM.

mod common;

use authentik_operator::kinds::{PasswordStage, UserLoginStage};
use authentik_sim::Profile;
use common::{Env, TOKEN, is_ready};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Replica {
    identity: String,
    metrics: u16,
    child: Child,
}

// A failing assertion must not leave operator processes behind.
impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_replica(
    env: &Env,
    identity: &str,
    token_file: &std::path::Path,
    log: &std::path::Path,
) -> Replica {
    start_replica_via(
        env,
        identity,
        token_file,
        log,
        testenv::shared().kubeconfig(),
    )
}

fn start_replica_via(
    env: &Env,
    identity: &str,
    token_file: &std::path::Path,
    log: &std::path::Path,
    kubeconfig: &std::path::Path,
) -> Replica {
    let metrics = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authentik-operator"));
    cmd.env_clear()
        .env("KUBECONFIG", kubeconfig)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["run", "--authentik-url", &env.sim.url()])
        .args(["--authentik-token-file", &token_file.display().to_string()])
        .args([
            "--namespace",
            &env.ns,
            "--resync-interval",
            "2s",
            "--backoff-max",
            "2s",
        ])
        .args([
            "--leader-election",
            "--lease-name",
            "ha-test",
            "--lease-namespace",
            &env.ns,
        ])
        .args([
            "--lease-duration",
            "4s",
            "--identity",
            identity,
            "--log-format",
            "json",
        ])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    // Tied to this process: a test killed by a signal takes its operators with it.
    let child = testenv::spawn_tied(cmd).expect("operator binary");
    Replica {
        identity: identity.to_string(),
        metrics,
        child,
    }
}

/// A folder for the replicas' logs, with the token file they read.
fn workdir(env: &Env, prefix: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("{prefix}{}", env.ns));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    (dir, token_file)
}

/// Waits until `r` answers /readyz with 200 (a standby is ready too).
async fn wait_ready(r: &Replica) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(r.metrics, "/readyz").await.map(|(s, _)| s) != Some(200) {
        assert!(Instant::now() < deadline, "{} never ready", r.identity);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.unwrap_or_default()))
}

async fn holder(env: &Env) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), &env.ns);
    leases
        .get_opt("ha-test")
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn wait_holder(env: &Env, not: Option<&str>, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Some(h) = holder(env).await
            && Some(h.as_str()) != not
        {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "no new lease holder within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn login(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
        "metadata": {"name": name}, "spec": {"sessionDuration": "hours=2"}
    })
}

#[tokio::test]
async fn the_standby_takes_over_when_the_leader_dies() {
    let env = Env::new(Profile::Current).await;
    let (dir, token_file) = workdir(&env, "ha-");
    let mut replicas = vec![
        start_replica(&env, "replica-a", &token_file, &dir.join("a.log")),
        start_replica(&env, "replica-b", &token_file, &dir.join("b.log")),
    ];
    let leader = wait_holder(&env, None, Duration::from_secs(30)).await;
    // Both are ready: the standby is healthy while it waits.
    for r in &replicas {
        wait_ready(r).await;
        assert_eq!(get(r.metrics, "/livez").await.map(|(s, _)| s), Some(200));
    }
    for name in ["ha-1", "ha-2", "ha-3"] {
        env.create::<UserLoginStage>(login(name)).await;
    }
    for name in ["ha-1", "ha-2", "ha-3"] {
        env.wait_for::<UserLoginStage>(name, "Ready", is_ready)
            .await;
    }
    let (leader_idx, standby_idx) = if replicas[0].identity == leader {
        (0, 1)
    } else {
        (1, 0)
    };
    let metrics = get(replicas[leader_idx].metrics, "/metrics")
        .await
        .expect("metrics")
        .1;
    assert!(metrics.contains("authentik_operator_leader 1"), "{metrics}");
    assert!(
        metrics.contains("authentik_operator_reconciliations_total{kind=\"UserLoginStage\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("authentik_operator_authentik_requests_total{"),
        "{metrics}"
    );
    let standby_metrics = get(replicas[standby_idx].metrics, "/metrics")
        .await
        .expect("metrics")
        .1;
    assert!(
        standby_metrics.contains("authentik_operator_leader 0"),
        "{standby_metrics}"
    );
    assert!(
        !standby_metrics.contains("authentik_operator_authentik_requests_total{"),
        "the standby never talks to authentik"
    );

    // Kill the leader without warning.
    let killed_at = Instant::now();
    replicas[leader_idx].child.kill().expect("kill");
    let _ = replicas[leader_idx].child.wait();
    let new_leader = wait_holder(&env, Some(&leader), Duration::from_secs(20)).await;
    assert_eq!(new_leader, replicas[standby_idx].identity);
    println!(
        "handover took {:?} (lease duration 4s)",
        killed_at.elapsed()
    );
    // The new leader reconciles: a new resource and a spec change both land, once.
    env.create::<UserLoginStage>(login("ha-4")).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "ha-pw"}, "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
    }))
    .await;
    env.wait_for::<UserLoginStage>("ha-4", "Ready", is_ready)
        .await;
    env.wait_for::<PasswordStage>("ha-pw", "Ready", is_ready)
        .await;
    for name in ["ha-1", "ha-2", "ha-3", "ha-4"] {
        assert_eq!(
            env.sim_stages_named("user_login", name).len(),
            1,
            "{name} exists once"
        );
    }
    let new_metrics = get(replicas[standby_idx].metrics, "/metrics")
        .await
        .expect("metrics")
        .1;
    assert!(
        new_metrics.contains("authentik_operator_leader 1"),
        "{new_metrics}"
    );

    // SIGTERM: a clean exit that hands the lease back at once.
    let survivor = &mut replicas[standby_idx].child;
    let pid = survivor.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = survivor.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit within 15s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    let logs = std::fs::read_to_string(dir.join("a.log")).unwrap_or_default()
        + &std::fs::read_to_string(dir.join("b.log")).unwrap_or_default();
    assert!(!logs.contains(TOKEN), "the token never reaches the logs");
    assert!(
        logs.lines()
            .all(|l| l.trim().is_empty() || l.starts_with('{')),
        "JSON logs: {logs}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TCP path to the API server that the test can cut: every connection through it is
/// dropped and no new one is accepted.
struct Cuttable {
    url: String,
    cut: tokio_util::sync::CancellationToken,
}

impl Cuttable {
    async fn to(server_url: &str) -> Cuttable {
        let upstream = server_url.trim_start_matches("https://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("https://{}", listener.local_addr().expect("an address"));
        let cut = tokio_util::sync::CancellationToken::new();
        let stop = cut.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    _ = stop.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(_) => return,
                    },
                };
                let (stop, upstream) = (stop.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Cuttable { url, cut }
    }
}

/// The sum of a counter's series in a /metrics text.
fn total(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A leader cut off from the API server cannot renew its lease, and its lease manager
/// reports the loss only once it can read the Lease again: meanwhile the standby takes the
/// lease. The cut-off leader must stop before that, not go on talking to authentik as a
/// second writer (found by the chaos soak, tests/soak.rs). Its connection to the API server
/// is cut on purpose, so the bad order is there on every run.
#[tokio::test]
async fn a_leader_cut_off_from_the_api_server_stops_before_the_standby_takes_over() {
    let env = Env::new(Profile::Current).await;
    let (dir, token_file) = workdir(&env, "ha-cut-");
    let server = testenv::shared().server_url().to_string();
    let path = Cuttable::to(&server).await;
    let kubeconfig = dir.join("kubeconfig");
    let text = std::fs::read_to_string(testenv::shared().kubeconfig()).expect("kubeconfig");
    std::fs::write(&kubeconfig, text.replace(&server, &path.url)).unwrap();

    let a = start_replica_via(
        &env,
        "replica-a",
        &token_file,
        &dir.join("a.log"),
        &kubeconfig,
    );
    assert_eq!(
        wait_holder(&env, None, Duration::from_secs(30)).await,
        "replica-a"
    );
    env.create::<UserLoginStage>(login("cut-1")).await;
    env.wait_for::<UserLoginStage>("cut-1", "Ready", is_ready)
        .await;
    let b = start_replica(&env, "replica-b", &token_file, &dir.join("b.log"));
    wait_ready(&b).await;

    path.cut.cancel();
    let taken = wait_holder(&env, Some("replica-a"), Duration::from_secs(30)).await;
    assert_eq!(taken, "replica-b");
    // From the standby's first moment as leader, the cut-off one no longer leads and makes
    // no request to authentik (or has exited).
    let requests = "authentik_operator_authentik_requests_total";
    if let Some((_, before)) = get(a.metrics, "/metrics").await {
        assert!(before.contains("authentik_operator_leader 0"), "{before}");
        tokio::time::sleep(Duration::from_secs(6)).await;
        if let Some((_, after)) = get(a.metrics, "/metrics").await {
            assert_eq!(
                total(&before, requests),
                total(&after, requests),
                "the cut-off replica went on talking to authentik"
            );
        }
    }
    let logs = std::fs::read_to_string(dir.join("a.log")).unwrap_or_default();
    assert!(
        logs.contains("stopping before another replica may take the lease"),
        "{logs}"
    );
    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
}
