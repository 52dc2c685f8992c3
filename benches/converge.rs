//! How fast the operator converges many resources, what it costs authentik and the API
//! server, and how much memory it holds: the real operator binary against the real
//! kube-apiserver of testenv and the authentik simulator. Prints figures; asserts nothing
//! about time.
//!
//! `cargo bench --bench converge`; sizes in BENCH_RESOURCES (default 1000; a comma list such
//! as `300,1000` runs each). Two parts per size:
//! 1. **Unlimited simulator** (answers at once): time to all Ready, authentik requests and
//!    API-server writes per resource, steady state (list pages and writes per interval),
//!    peak RSS and the RSS slope over BENCH_STEADY_SECS (default 20) of steady state.
//! 2. **Capacity-limited simulator** (2 workers, authentik 2024.4.4's service times): the
//!    server's own limit, measured with a plain client creating and deleting
//!    BENCH_LIMIT_SAMPLE (default 200) stages at concurrency 1, 2, 4 and 8 (the best rate
//!    counts), against the operator with default settings creating and deleting N; prints
//!    the ratios operator / limit. BENCH_CAPACITY=0 skips this part (at 5,000 it takes
//!    about 10 minutes: the limit is about 22 creates per second).
//! 3. **Drift** (`converge/drift.rs`): BENCH_DRIFT_CHANGES (default 50) changes made as
//!    another user, BENCH_DRIFT_SPREAD_MS (500) apart, corrected with the event log followed
//!    and without it: time to each correction, steady-state authentik requests a minute,
//!    reconciles queued by the operator's own writes. BENCH_DRIFT=0 skips it (it takes about
//!    six minutes a size).
//!
//! Gives up, naming the resources that are not Ready and why, when none became Ready for
//! BENCH_STALL_SECS (default 60). BENCH_OPERATOR runs another build of the operator binary
//! (an older commit's, say) in the same harness, for a before/after on one machine.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "converge/drift.rs"]
mod drift;

use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::PasswordStage;
use authentik_sim::{Capacity, Profile};
use common::{Env, TOKEN};
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, WatchEvent, WatchParams};
use serde_json::json;
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The operator process, killed however the benchmark ends: on return or panic by this
/// guard, on a signal by the kernel (it is spawned tied to this process).
struct Operator {
    child: std::process::Child,
    metrics_port: u16,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Operator {
    /// The operator binary on `env`, with its defaults but for `extra` flags.
    fn start(env: &Env, extra: &[&str]) -> Operator {
        let dir = token_dir(env);
        let binary = std::env::var("BENCH_OPERATOR")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_authentik-operator").to_string());
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut cmd = Command::new(binary);
        cmd.env("KUBECONFIG", testenv::shared().kubeconfig())
            .args(["run", "--authentik-url", &env.sim.url()])
            .args([
                "--authentik-token-file",
                &dir.join("token").display().to_string(),
            ])
            .args(["--namespace", &env.ns, "--metrics-addr"])
            .arg(format!("127.0.0.1:{metrics_port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = testenv::spawn_tied(cmd).expect("operator binary");
        Operator {
            child,
            metrics_port,
        }
    }

    /// The sum of a counter's series on the operator's /metrics (0 when it has none yet).
    async fn counter(&self, name: &str) -> f64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        let Ok(reply) = reqwest::get(&url).await else {
            return 0.0;
        };
        let text = reply.text().await.unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
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
}

fn token_dir(env: &Env) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-{}", env.ns));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    dir
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

/// Creates `n` PasswordStages named `{prefix}-{i}` in the API server.
async fn create_resources(env: &Env, prefix: &str, n: usize) {
    futures::stream::iter(0..n)
        .for_each_concurrent(16, |i| async move {
            env.create::<PasswordStage>(json!({
                "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
                "metadata": {"name": format!("{prefix}-{i}")},
                "spec": {"backends": ["authentik.core.auth.InbuiltBackend"],
                         "configureFlow": {"slug": "default-password-change"},
                         "failedAttemptsBeforeCancel": (i % 7) as i32}
            }))
            .await;
        })
        .await;
}

/// Waits until all `n` resources are Ready (as the watch of [`Tracker`] sees them);
/// returns when, from `started`. Reading the watch, not listing: a list of thousands of
/// objects every few hundred milliseconds would load the API server more than the operator.
async fn all_ready(env: &Env, tracker: &Tracker, n: usize, started: Instant) -> Duration {
    let stall = Duration::from_secs(env_number("BENCH_STALL_SECS", 60));
    let (mut best, mut progressed, mut reported) = (0, Instant::now(), Instant::now());
    loop {
        let ready = tracker.ready();
        if ready >= n {
            return started.elapsed();
        }
        if ready > best {
            (best, progressed) = (ready, Instant::now());
        }
        if reported.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {ready}/{n} Ready after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            reported = Instant::now();
        }
        if progressed.elapsed() > stall {
            let api = env.api::<PasswordStage>();
            let list = api.list(&ListParams::default()).await.expect("list");
            give_up(&list.items, ready, n, stall);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes every resource and waits until none is left (the operator has deleted their
/// stages and released the finalizers); returns how long that took.
async fn delete_all(env: &Env) -> Duration {
    let api = env.api::<PasswordStage>();
    let started = Instant::now();
    // Tens of thousands of deletes in one request can outlast the API server's request
    // timeout; what is left is deleted by the next try.
    for attempt in 1.. {
        match api
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
        {
            Ok(_) => break,
            Err(e) if attempt < 5 => eprintln!("  delete all: {e}; again"),
            Err(e) => panic!("delete all: {e}"),
        }
    }
    let mut reported = Instant::now();
    loop {
        let left = api
            .list_metadata(&ListParams::default())
            .await
            .expect("list")
            .items
            .len();
        if left == 0 {
            return started.elapsed();
        }
        if reported.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {left} left after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            reported = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Follows the resources through one watch: how many changes the API server made to them
/// (finalizer, create marker, status: every MODIFIED), and which are Ready.
struct Tracker {
    writes: Arc<AtomicUsize>,
    ready: Arc<Mutex<HashSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tracker {
    async fn start(env: &Env) -> Tracker {
        let writes = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(Mutex::new(HashSet::new()));
        let api = env.api::<PasswordStage>();
        let list = api
            .list_metadata(&ListParams::default())
            .await
            .expect("list");
        let mut rv = list.metadata.resource_version.unwrap_or_default();
        let (counted, seen) = (writes.clone(), ready.clone());
        let task = tokio::spawn(async move {
            loop {
                let params = WatchParams::default().timeout(290);
                let Ok(stream) = api.watch(&params, &rv).await else {
                    return;
                };
                let mut stream = stream.boxed();
                while let Ok(Some(event)) = stream.try_next().await {
                    let o = match event {
                        WatchEvent::Modified(o) => {
                            counted.fetch_add(1, Ordering::Relaxed);
                            o
                        }
                        WatchEvent::Added(o) => o,
                        WatchEvent::Deleted(o) => {
                            rv = o.resource_version().unwrap_or_default();
                            seen.lock().unwrap().remove(&o.name_any());
                            continue;
                        }
                        WatchEvent::Bookmark(b) => {
                            rv = b.metadata.resource_version;
                            continue;
                        }
                        WatchEvent::Error(_) => return,
                    };
                    rv = o.resource_version().unwrap_or_default();
                    let mut seen = seen.lock().unwrap();
                    if common::is_ready(&o) {
                        seen.insert(o.name_any());
                    } else {
                        seen.remove(&o.name_any());
                    }
                }
            }
        });
        Tracker {
            writes,
            ready,
            task,
        }
    }

    fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    fn ready(&self) -> usize {
        self.ready.lock().unwrap().len()
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Events the operator published in the namespace.
async fn events(env: &Env) -> usize {
    let api: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(env.client.clone(), &env.ns);
    api.list_metadata(&ListParams::default())
        .await
        .map_or(0, |l| l.items.len())
}

/// Part 1: the unlimited simulator.
async fn unlimited(env: &Env, n: usize) {
    let resync = 5;
    let operator = Operator::start(
        env,
        &[
            "--resync-interval",
            &format!("{resync}s"),
            "--concurrency",
            "8",
        ],
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle_rss, _) = operator.rss_kib();
    let tracker = Tracker::start(env).await;
    env.sim.control().clear_requests();

    let started = Instant::now();
    create_resources(env, "bench", n).await;
    let created = started.elapsed();
    let ready = all_ready(env, &tracker, n, started).await;
    let converge_requests = env.sim.control().requests().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kube_writes = tracker.writes();
    let events = events(env).await;
    drop(tracker);

    // Steady state: nothing to do. RSS sampled every second for its slope.
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.sim.control().clear_requests();
    let steady_secs = env_number("BENCH_STEADY_SECS", 4 * resync).max(2 * resync);
    let mut samples = Vec::new();
    let steady_start = Instant::now();
    while steady_start.elapsed() < Duration::from_secs(steady_secs) {
        samples.push((
            steady_start.elapsed().as_secs_f64(),
            operator.rss_kib().0 as f64,
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let steady = env.sim.control().requests();
    let intervals = steady_secs as f64 / resync as f64;
    let lists = steady
        .iter()
        .filter(|r| r.method == "GET" && r.route.ends_with("stages/password/"))
        .count();
    let steady_writes = steady.iter().filter(|r| r.method != "GET").count();
    let in_authentik = env.sim.control().stages("password").len();
    let (rss, peak) = operator.rss_kib();

    println!("-- {n} PasswordStages (one flow slug reference each), simulator unlimited --");
    println!(
        "created in the apiserver in:    {:.2} s",
        created.as_secs_f64()
    );
    println!(
        "all Ready after:                {:.2} s ({:.0} resources/s)",
        ready.as_secs_f64(),
        n as f64 / ready.as_secs_f64()
    );
    println!(
        "authentik requests to converge: {converge_requests} ({:.2} per resource)",
        converge_requests as f64 / n as f64
    );
    println!(
        "API-server writes to converge:  {kube_writes} to the resources ({:.2} per resource), {events} events",
        kube_writes as f64 / n as f64
    );
    println!(
        "steady state, {steady_secs} s ({intervals:.0} intervals): {:.1} password list pages per interval \
         (ceil({in_authentik} stages / 100) = {}), {steady_writes} writes",
        lists as f64 / intervals,
        in_authentik.div_ceil(100)
    );
    println!(
        "operator memory: idle {} MiB, converged-and-steady {} MiB, peak {} MiB; \
         steady-state slope {:+.2} MiB/min",
        idle_rss / 1024,
        rss / 1024,
        peak / 1024,
        slope(&samples) * 60.0 / 1024.0
    );
    delete_all(env).await;
    drop(operator);
}

/// Least-squares slope of (seconds, KiB): KiB per second.
fn slope(samples: &[(f64, f64)]) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = samples
        .iter()
        .fold((0.0, 0.0), |(x, y), (a, b)| (x + a / n, y + b / n));
    let num: f64 = samples.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = samples.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    if den == 0.0 { 0.0 } else { num / den }
}

/// The capacity-limited simulator's own limit: the best rate of a plain client creating,
/// then deleting, `sample` stages, at concurrency 1, 2, 4 and 8.
async fn server_limit(env: &Env, sample: usize) -> (f64, f64) {
    let client = common::authentik(env);
    let (mut create_rate, mut delete_rate) = (0.0_f64, 0.0_f64);
    for concurrency in [1, 2, 4, 8] {
        let started = Instant::now();
        let pks: Vec<String> = futures::stream::iter(0..sample)
            .map(|i| {
                let client = &client;
                async move {
                    let body = common::body(json!({
                        "name": format!("limit-{concurrency}-{i}"),
                        "backends": ["authentik.core.auth.InbuiltBackend"]
                    }));
                    let created = client.create("stages/password/", &body).await;
                    created.expect("create")["pk"].as_str().unwrap().to_string()
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let created = sample as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        futures::stream::iter(pks)
            .for_each_concurrent(concurrency, |pk| {
                let client = &client;
                async move {
                    client
                        .delete("stages/password/", &pk)
                        .await
                        .expect("delete");
                }
            })
            .await;
        let deleted = sample as f64 / started.elapsed().as_secs_f64();
        println!(
            "plain client, concurrency {concurrency}: {created:.1} creates/s, {deleted:.1} deletes/s"
        );
        create_rate = create_rate.max(created);
        delete_rate = delete_rate.max(deleted);
    }
    (create_rate, delete_rate)
}

/// Part 2: the capacity-limited simulator, the operator with default settings.
async fn at_capacity(env: &Env, n: usize) {
    let capacity = Capacity::default();
    env.sim.control().set_capacity(Some(capacity));
    println!(
        "-- {n} PasswordStages, simulator limited to {} workers (GET {} ms, list {}+{}/object ms, \
         create {} ms, PATCH {} ms, DELETE {} ms) --",
        capacity.workers,
        capacity.get_ms,
        capacity.list_ms,
        capacity.list_item_ms,
        capacity.create_ms,
        capacity.patch_ms,
        capacity.delete_ms
    );
    let sample = env_number("BENCH_LIMIT_SAMPLE", 200) as usize;
    let (create_rate, delete_rate) = server_limit(env, sample).await;
    let operator = Operator::start(env, &[]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.sim.control().clear_requests();
    let tracker = Tracker::start(env).await;
    let started = Instant::now();
    create_resources(env, "cap", n).await;
    let ready = all_ready(env, &tracker, n, started).await;
    drop(tracker);
    let requests = env.sim.control().requests().len();
    let deleted = delete_all(env).await;
    drop(operator);
    env.sim.control().set_capacity(None);
    let create_limit = n as f64 / create_rate;
    let delete_limit = n as f64 / delete_rate;
    println!(
        "operator (defaults): all Ready after {:.1} s, {:.2} requests per resource; all deleted after {:.1} s",
        ready.as_secs_f64(),
        requests as f64 / n as f64,
        deleted.as_secs_f64()
    );
    println!(
        "ratio operator / limit: create {:.2} ({:.1} s / {create_limit:.1} s), delete {:.2} ({:.1} s / {delete_limit:.1} s)",
        ready.as_secs_f64() / create_limit,
        ready.as_secs_f64(),
        deleted.as_secs_f64() / delete_limit,
        deleted.as_secs_f64(),
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_RESOURCES")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        for n in sizes {
            let env = Env::new(Profile::Current).await;
            unlimited(&env, n).await;
            if env_number("BENCH_CAPACITY", 1) != 0 {
                at_capacity(&env, n).await;
            }
            let _ = std::fs::remove_dir_all(token_dir(&env));
            if env_number("BENCH_DRIFT", 1) != 0 {
                drift::drift(n).await;
            }
        }
    });
}
