//! Part 3 of the converge benchmark: changes made in authentik behind the operator's back, as
//! another user, with the event log followed (the defaults: read every 2 s, a sweep every
//! 10 min) and without it (`--event-interval 0`, a sweep every 60 s: the defaults before the
//! follower). Per mode: the time from each change to its correction (p50, p95, max), the
//! authentik requests a minute with nothing changing, and the reconciles the log queued for
//! the operator's own writes (echoes; 0 is right).

use super::{Operator, Tracker, all_ready, create_resources, env_number};
use crate::common::Env;
use authentik_sim::Profile;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Per mode: its name, the operator's flags, how often it sweeps, whether it reads the log.
const MODES: &[(&str, &[&str], u64, bool)] = &[
    ("follower off", &["--event-interval", "0"], 60, false),
    ("follower on (defaults)", &[], 600, true),
];

pub async fn drift(n: usize) {
    let changes = env_number("BENCH_DRIFT_CHANGES", 50) as usize;
    let spread = Duration::from_millis(env_number("BENCH_DRIFT_SPREAD_MS", 500));
    let env = Env::new(Profile::Current).await;
    create_resources(&env, "drift", n).await;
    let tracker = Tracker::start(&env).await;
    // Requests of one sweep at this size, measured in the mode that sweeps every minute.
    let mut sweep_cost = f64::NAN;
    for (i, (mode, flags, sweep_secs, follows)) in MODES.iter().enumerate() {
        let operator = Operator::start(&env, flags);
        if i == 0 {
            // The watch sees them become Ready; later modes start with them Ready.
            all_ready(&env, &tracker, n, Instant::now()).await;
        }
        // The start's own sweep and the follower's first-start sweep are done.
        tokio::time::sleep(Duration::from_secs(10 + n as u64 / 200)).await;
        let steady = steady_requests(&env, *sweep_secs).await;
        let echoes_before = operator
            .counter("authentik_operator_event_reconciles_total")
            .await;
        let latencies = change_and_time(&env, n, changes, spread, *sweep_secs).await;
        let queued = operator
            .counter("authentik_operator_event_reconciles_total")
            .await;
        report(
            mode,
            n,
            &latencies,
            changes,
            spread,
            &steady,
            &mut sweep_cost,
        );
        if *follows {
            // Right is one per outside change: the corrections (its own writes) queue nothing.
            // (Its own creates are tests/e2e_events.rs's: here they were made before this
            // operator started, by the first mode's.)
            println!(
                "  reconciles queued by the log: {echoes_before} in the steady state; {} for \
                 {changes} outside changes and their {} corrections",
                queued - echoes_before,
                latencies.len()
            );
        }
        drop(operator);
    }
    drop(tracker);
}

/// Requests to authentik with nothing changing: event polls and sweep requests, counted over
/// a window at least as long as one sweep interval when that is short (and one minute
/// otherwise, the sweep then amortized from a measured sweep).
struct Steady {
    sweep_secs: u64,
    window: Duration,
    polls: usize,
    sweep: usize,
}

async fn steady_requests(env: &Env, sweep_secs: u64) -> Steady {
    let window = Duration::from_secs(if sweep_secs <= 60 { 2 * sweep_secs } else { 60 });
    env.sim.control().clear_requests();
    tokio::time::sleep(window).await;
    let requests = env.sim.control().requests();
    let polls = requests
        .iter()
        .filter(|r| r.route.contains("events/events"))
        .count();
    Steady {
        sweep_secs,
        window,
        polls,
        sweep: requests.len() - polls,
    }
}

/// Makes `changes` changes as "alice", one every `spread`, to distinct stages; returns how
/// long each took to be put back.
async fn change_and_time(
    env: &Env,
    n: usize,
    changes: usize,
    spread: Duration,
    sweep_secs: u64,
) -> Vec<Duration> {
    let control = env.sim.control();
    // The benchmark's own stages, not the install's defaults.
    let stages: Vec<_> = control
        .stages("password")
        .into_iter()
        .filter(|s| s["name"].as_str().is_some_and(|n| n.contains("drift-")))
        .collect();
    assert_eq!(stages.len(), n, "the benchmark's stages in authentik");
    let mut pending: BTreeMap<String, (i64, Instant)> = BTreeMap::new();
    let mut done = Vec::new();
    let step = (n / changes).max(1);
    let mut next = Instant::now();
    let limit = Duration::from_secs(sweep_secs * 2 + 30);
    let mut made = 0;
    let started = Instant::now();
    while (made < changes || !pending.is_empty()) && started.elapsed() < limit + spread * 50 {
        if made < changes && Instant::now() >= next {
            let stage = &stages[(made * step) % stages.len()];
            let pk = stage["pk"].as_str().unwrap_or_default().to_string();
            let want = stage["failed_attempts_before_cancel"].as_i64().unwrap_or(0);
            let reply = control.api_as(
                "alice",
                "PATCH",
                &format!("stages/password/{pk}/"),
                Some(json!({"failed_attempts_before_cancel": want + 1000})),
            );
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            pending.insert(pk, (want, Instant::now()));
            made += 1;
            next += spread;
        }
        pending.retain(|pk, (want, at)| {
            let now = control
                .peek(&format!("stages/password/{pk}/"))
                .and_then(|s| s["failed_attempts_before_cancel"].as_i64());
            if now == Some(*want) {
                done.push(at.elapsed());
                false
            } else {
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !pending.is_empty() {
        println!("  {} changes not corrected within the limit", pending.len());
    }
    done.sort();
    done
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64()
}

fn report(
    mode: &str,
    n: usize,
    latencies: &[Duration],
    changes: usize,
    spread: Duration,
    steady: &Steady,
    sweep_cost: &mut f64,
) {
    let sweep_secs = steady.sweep_secs;
    let minutes = steady.window.as_secs_f64() / 60.0;
    let polls_per_min = steady.polls as f64 / minutes;
    // A short sweep interval shows whole sweeps in the window; a long one is amortized from
    // the cost of one sweep, measured in the first mode's window and identical here.
    let sweeps_in_window = steady.window.as_secs() / sweep_secs;
    let sweep_line = if sweeps_in_window > 0 {
        let per_sweep = steady.sweep as f64 / sweeps_in_window as f64;
        *sweep_cost = per_sweep;
        format!(
            "{:.1} a minute ({per_sweep:.0} requests a sweep, every {sweep_secs} s)",
            steady.sweep as f64 / minutes
        )
    } else {
        let per_sweep = *sweep_cost;
        format!(
            "{:.1} a minute amortized ({per_sweep:.0} requests a sweep, every {sweep_secs} s; \
             {} requests in this window)",
            per_sweep * 60.0 / sweep_secs as f64,
            steady.sweep
        )
    };
    let sweep_per_min = if sweeps_in_window > 0 {
        steady.sweep as f64 / minutes
    } else {
        *sweep_cost * 60.0 / sweep_secs as f64
    };
    println!("-- drift, {n} PasswordStages, {mode} --");
    println!(
        "  correction of {} of {changes} changes made as another user, {} ms apart: \
         p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        latencies.len(),
        spread.as_millis(),
        percentile(latencies, 0.50),
        percentile(latencies, 0.95),
        latencies.last().map_or(f64::NAN, |d| d.as_secs_f64()),
    );
    println!(
        "  steady state, nothing changing: {:.1} authentik requests a minute \
         (event polls {polls_per_min:.1} a minute; sweep {sweep_line})",
        polls_per_min + sweep_per_min
    );
}
