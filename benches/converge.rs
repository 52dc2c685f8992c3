//! How fast the operator converges many resources, what it costs authentik in steady state,
//! and how much memory it holds: the real operator binary against the real kube-apiserver of
//! testenv and the authentik simulator. Prints figures; asserts nothing about time.
//!
//! `cargo bench --bench converge` (N resources: BENCH_RESOURCES, default 300). Gives up,
//! naming the resources that are not Ready and why, when none became Ready for
//! BENCH_STALL_SECS (default 60).

#[path = "../tests/common/mod.rs"]
mod common;

use authentik_operator::crd::stage::Stage;
use authentik_operator::kinds::PasswordStage;
use authentik_sim::Profile;
use common::{Env, TOKEN};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::ListParams;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The operator process, killed however the benchmark ends: on return or panic by this
/// guard, on a signal by the kernel (it is spawned tied to this process).
struct Operator(std::process::Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Stops the benchmark, saying which resources are not Ready and why.
fn give_up(items: &[PasswordStage], ready: usize, n: usize, stall: Duration) -> ! {
    eprintln!(
        "giving up: {ready}/{n} Ready, none more for {} s. Not Ready:",
        stall.as_secs()
    );
    for o in items.iter().filter(|o| !common::is_ready(*o)).take(20) {
        let synced = o.status().and_then(|s| s.condition("Synced"));
        eprintln!(
            "  {}: {} {}",
            o.name_any(),
            synced.map_or("(no status yet)", |c| c.reason.as_str()),
            synced.map_or("", |c| c.message.as_str())
        );
    }
    // Exiting skips destructors: the operator goes with this process (spawned tied to it).
    std::process::exit(1);
}

fn main() {
    let n: usize = std::env::var("BENCH_RESOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let env = Env::new(Profile::Current).await;
        let dir = std::env::temp_dir().join(format!("bench-{}", env.ns));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), TOKEN).unwrap();
        let resync = 5;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authentik-operator"));
        cmd.env("KUBECONFIG", testenv::shared().kubeconfig())
            .args(["run", "--authentik-url", &env.sim.url()])
            .args([
                "--authentik-token-file",
                &dir.join("token").display().to_string(),
            ])
            .args([
                "--namespace",
                &env.ns,
                "--resync-interval",
                &format!("{resync}s"),
            ])
            .args(["--concurrency", "8", "--metrics-addr", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let operator = Operator(testenv::spawn_tied(cmd).expect("operator binary"));
        let pid = operator.0.id();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (idle_rss, _) = rss_kib(pid);

        let started = Instant::now();
        let api = env.api::<PasswordStage>();
        futures::stream::iter(0..n)
            .for_each_concurrent(16, |i| {
                let env = &env;
                async move {
                    env.create::<PasswordStage>(json!({
                        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
                        "metadata": {"name": format!("bench-{i}")},
                        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"],
                                 "configureFlow": {"slug": "default-password-change"},
                                 "failedAttemptsBeforeCancel": (i % 7) as i32}
                    }))
                    .await;
                }
            })
            .await;
        let created = started.elapsed();
        let stall = Duration::from_secs(
            std::env::var("BENCH_STALL_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(60),
        );
        let (mut best, mut progressed, mut reported) = (0, Instant::now(), Instant::now());
        let ready = loop {
            let list = api.list(&ListParams::default()).await.expect("list");
            let ready = list.items.iter().filter(|o| common::is_ready(*o)).count();
            if ready == n {
                break started.elapsed();
            }
            if ready > best {
                (best, progressed) = (ready, Instant::now());
            }
            if reported.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "{ready}/{n} Ready after {:.0} s",
                    started.elapsed().as_secs_f64()
                );
                reported = Instant::now();
            }
            if progressed.elapsed() > stall {
                give_up(&list.items, ready, n, stall);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let converge_requests = env.sim.control().requests().len();

        // Steady state: two full intervals with nothing to do.
        tokio::time::sleep(Duration::from_secs(2)).await;
        env.sim.control().clear_requests();
        tokio::time::sleep(Duration::from_secs(2 * resync)).await;
        let steady = env.sim.control().requests();
        let lists = steady
            .iter()
            .filter(|r| r.method == "GET" && r.route.ends_with("stages/password/"))
            .count();
        let writes = steady.iter().filter(|r| r.method != "GET").count();
        let in_authentik = env.sim.control().stages("password").len();
        let (rss, peak) = rss_kib(pid);
        drop(operator);
        let _ = std::fs::remove_dir_all(&dir);

        println!("resources:                    {n} PasswordStages (one flow slug reference each)");
        println!(
            "created in the apiserver in:  {:.2} s",
            created.as_secs_f64()
        );
        println!(
            "all Ready after:              {:.2} s ({:.0} resources/s)",
            ready.as_secs_f64(),
            n as f64 / ready.as_secs_f64()
        );
        println!(
            "authentik requests to converge: {converge_requests} ({:.2} per resource)",
            converge_requests as f64 / n as f64
        );
        println!(
            "steady state, {} s (2 intervals): {} requests, {lists} password list pages \
             (ceil({in_authentik} stages / 100) = {} per interval), {writes} writes",
            2 * resync,
            steady.len(),
            in_authentik.div_ceil(100)
        );
        println!(
            "operator memory: idle {} MiB, now {} MiB, peak {} MiB",
            idle_rss / 1024,
            rss / 1024,
            peak / 1024
        );
    });
}
