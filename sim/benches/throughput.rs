//! Requests per second of the simulator on loopback: several clients drive a mix of lists,
//! reads, writes and deletes against a seeded `current` simulator.
//!
//! `cargo bench -p authentik-sim --bench throughput`; `SIM_BENCH_REQUESTS` (default 20000)
//! and `SIM_BENCH_CLIENTS` (default 8) change the load. The run is bounded by the request
//! count and stops by itself. Built as a test (`cargo test --benches`, no `--bench` argument)
//! it only runs a short smoke load.

use std::time::{Duration, Instant};

use authentik_sim::{Profile, SimConfig, Simulator};
use serde_json::{Value, json};

const TOKEN: &str = "bench-token";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one client does for its share of the requests; returns per-request latencies and
/// the number of unexpected statuses.
async fn client(base: String, id: usize, count: usize, pks: Vec<String>) -> (Vec<Duration>, usize) {
    let http = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(count);
    let mut errors = 0;
    let mut own: Vec<String> = Vec::new();
    for i in 0..count {
        let pk = &pks[(i * 7 + id) % pks.len()];
        let (req, want) = match i % 20 {
            0..=7 => (
                http.get(format!("{base}stages/user_login/?page_size=20")),
                200,
            ),
            8..=12 => (http.get(format!("{base}stages/user_login/{pk}/")), 200),
            13 => (
                http.get(format!("{base}stages/all/?search=bench&page_size=10")),
                200,
            ),
            14 => (
                http.get(format!("{base}stages/user_login/{pk}/used_by/")),
                200,
            ),
            15 | 16 => {
                let body = json!({"name": format!("c{id}-{i}"), "session_duration": "hours=1"});
                (
                    http.post(format!("{base}stages/user_login/")).json(&body),
                    201,
                )
            }
            17 | 18 => {
                let body = json!({"remember_me_offset": format!("minutes={i}")});
                (
                    http.patch(format!("{base}stages/user_login/{pk}/"))
                        .json(&body),
                    200,
                )
            }
            _ => match own.pop() {
                Some(victim) => (
                    http.delete(format!("{base}stages/user_login/{victim}/")),
                    204,
                ),
                None => (http.get(format!("{base}admin/version/")), 200),
            },
        };
        let t = Instant::now();
        let resp = req.bearer_auth(TOKEN).send().await;
        let (status, body) = match resp {
            Ok(r) => {
                let s = r.status().as_u16();
                (s, r.bytes().await.unwrap_or_default())
            }
            Err(_) => (0, Default::default()),
        };
        latencies.push(t.elapsed());
        if status != want {
            errors += 1;
        }
        if status == 201
            && let Ok(v) = serde_json::from_slice::<Value>(&body)
            && let Some(pk) = v["pk"].as_str()
        {
            own.push(pk.to_string());
        }
    }
    (latencies, errors)
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let requests = env_usize("SIM_BENCH_REQUESTS", if smoke { 400 } else { 20_000 });
    let clients = env_usize("SIM_BENCH_CLIENTS", 8).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let cfg = SimConfig { token: TOKEN.into(), profile: Profile::Current, seed: true };
        let sim = Simulator::start(cfg).await.expect("simulator starts");
        let base = format!("{}/api/v3/", sim.url());
        let setup = reqwest::Client::new();
        let mut pks = Vec::new();
        for i in 0..200 {
            let body = json!({"name": format!("bench-{i:03}")});
            let r = setup.post(format!("{base}stages/user_login/")).bearer_auth(TOKEN).json(&body).send().await;
            let v: Value = match r {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(e) => panic!("setup request failed: {e}"),
            };
            pks.extend(v["pk"].as_str().map(str::to_string));
        }
        assert_eq!(pks.len(), 200, "setup created the stages");

        let started = Instant::now();
        let per_client = requests / clients;
        let tasks: Vec<_> =
            (0..clients).map(|id| tokio::spawn(client(base.clone(), id, per_client, pks.clone()))).collect();
        let mut latencies = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await.expect("client task");
            latencies.extend(l);
            errors += e;
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        let total = latencies.len();
        println!("authentik-sim throughput (loopback, profile current, {clients} clients, keep-alive)");
        println!("  requests:    {total} (mix: 40% list, 25% retrieve, 5% search, 5% used_by, 10% create, 10% patch, 5% delete)");
        println!("  elapsed:     {:.3} s", elapsed.as_secs_f64());
        println!("  throughput:  {:.0} requests/s", total as f64 / elapsed.as_secs_f64());
        println!("  latency:     p50 {:?}  p90 {:?}  p99 {:?}  max {:?}", pct(0.50), pct(0.90), pct(0.99), pct(1.0));
        println!("  unexpected statuses: {errors}");
        let counters = sim.control().counters();
        println!("  server-side counters: {} routes, {} requests", counters.len(), counters.values().sum::<u64>());
        sim.shutdown().await;
        assert_eq!(errors, 0, "every request got its expected status");
    });
}
