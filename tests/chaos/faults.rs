//! The faults, injected from the seed in storms (faults every few seconds, overlapping)
//! followed by calms (none: what the storm broke must heal within the bound while the client
//! and the authentik user go on). Each is recorded with when it began and ended.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authentik_sim::{Fault, LostAnswer};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Shared;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    KillLeader,
    HandOver,
    ApiserverRestart,
    WatchExpiry,
    Burst503,
    Burst502,
    Burst429,
    Slow,
    AuthentikDown,
    LostAnswer,
    SimRestart,
}

pub const ALL: [FaultKind; 11] = [
    FaultKind::KillLeader,
    FaultKind::HandOver,
    FaultKind::ApiserverRestart,
    FaultKind::WatchExpiry,
    FaultKind::Burst503,
    FaultKind::Burst502,
    FaultKind::Burst429,
    FaultKind::Slow,
    FaultKind::AuthentikDown,
    FaultKind::LostAnswer,
    FaultKind::SimRestart,
];

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::KillLeader => "kill -9 of the leader",
            FaultKind::HandOver => "leader hand-over (SIGTERM)",
            FaultKind::ApiserverRestart => "kube-apiserver restart",
            FaultKind::WatchExpiry => "watch expiry (etcd compacted, 410 Gone)",
            FaultKind::Burst503 => "authentik 503 burst",
            FaultKind::Burst502 => "authentik 502 burst",
            FaultKind::Burst429 => "authentik 429 burst",
            FaultKind::Slow => "authentik slow",
            FaultKind::AuthentikDown => "authentik down",
            FaultKind::LostAnswer => "answer lost after commit",
            FaultKind::SimRestart => "authentik restart (data kept)",
        }
    }

    /// Faults of processes: one at a time (each waits for the last one's recovery).
    fn of_a_process(self) -> bool {
        matches!(
            self,
            FaultKind::KillLeader
                | FaultKind::HandOver
                | FaultKind::ApiserverRestart
                | FaultKind::WatchExpiry
                | FaultKind::SimRestart
        )
    }
}

/// Storms and calms until `stop`; returns once every fault it started has ended.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let cfg = shared.cfg.clone();
    let mut rng = fastrand::Rng::with_seed(shared.cfg.seed ^ 0xfa17);
    let state = Arc::new(State::default());
    let mut running = JoinSet::new();
    let mut deck: Vec<FaultKind> = Vec::new();
    // The first storm lasts until every kind of fault has been dealt once (a short run too).
    let mut dealt_all = cfg.faults.is_empty();
    'run: while !stop.is_cancelled() {
        let storm_end = shared.journal.now() + cfg.storm.as_secs_f64();
        eprintln!("[{:7.1}s] storm", shared.journal.now());
        while shared.journal.now() < storm_end || !dealt_all {
            let gap = cfg.gap.0 + rng.f64() * (cfg.gap.1 - cfg.gap.0);
            tokio::select! {
                _ = stop.cancelled() => break 'run,
                _ = tokio::time::sleep(Duration::from_secs_f64(gap)) => {}
            }
            if deck.is_empty() {
                deck = cfg.faults.clone();
                rng.shuffle(&mut deck);
            }
            // The next kind that is not already going on (one process fault at a time).
            let Some(at) = deck.iter().position(|k| !state.blocked(*k)) else {
                continue;
            };
            let kind = deck.remove(at);
            dealt_all |= deck.is_empty();
            state.set_busy(kind, true);
            let seed = rng.u64(..);
            let (shared, state) = (shared.clone(), state.clone());
            running.spawn(async move {
                inject(&shared, &state, kind, fastrand::Rng::with_seed(seed)).await;
                state.set_busy(kind, false);
            });
        }
        eprintln!("[{:7.1}s] calm", shared.journal.now());
        tokio::select! {
            _ = stop.cancelled() => break 'run,
            _ = tokio::time::sleep(cfg.calm) => {}
        }
    }
    while running.join_next().await.is_some() {}
}

#[derive(Default)]
struct State {
    busy: Mutex<HashSet<FaultKind>>,
    /// The bursts injected now (the simulator's faults are cleared all at once).
    bursts: Mutex<Vec<(u64, Fault)>>,
}

impl State {
    fn blocked(&self, k: FaultKind) -> bool {
        let busy = self.busy.lock().unwrap();
        busy.contains(&k) || (k.of_a_process() && busy.iter().any(|b| b.of_a_process()))
    }

    fn set_busy(&self, k: FaultKind, on: bool) {
        let mut busy = self.busy.lock().unwrap();
        if on {
            busy.insert(k);
        } else {
            busy.remove(&k);
        }
    }
}

fn secs(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> Duration {
    Duration::from_secs_f64(lo + rng.f64() * (hi - lo))
}

async fn inject(shared: &Shared, state: &State, kind: FaultKind, mut rng: fastrand::Rng) {
    let journal = &shared.journal;
    let control = shared.env.sim.control();
    match kind {
        FaultKind::KillLeader | FaultKind::HandOver => {
            let Some((slot, identity, pid)) = shared.replicas.leader(&shared.env.client).await
            else {
                journal.note("faults", format!("{}: no running leader", kind.name()));
                return;
            };
            let (signal, wait, new_identity) = match kind {
                FaultKind::KillLeader => (libc::SIGKILL, 10.0, rng.bool()),
                _ => (libc::SIGTERM, 30.0, true),
            };
            let after = secs(&mut rng, 0.2, 3.0);
            let id = journal.fault_started(kind.name(), format!("{identity} (pid {pid})"));
            let outcome = shared
                .replicas
                .stop_and_restart(
                    slot,
                    signal,
                    Duration::from_secs_f64(wait),
                    after,
                    new_identity,
                )
                .await;
            journal.fault_ended(id, &outcome);
        }
        FaultKind::ApiserverRestart | FaultKind::WatchExpiry => {
            let compact = kind == FaultKind::WatchExpiry;
            let graceful = !compact && rng.bool();
            let stop = if graceful {
                testenv::Stop::Term
            } else {
                testenv::Stop::Kill
            };
            let id = journal.fault_started(kind.name(), format!("stopped with {stop:?}"));
            let outcome = tokio::task::spawn_blocking(move || {
                let cp = testenv::shared();
                let compacted = if compact {
                    match cp.compact_etcd() {
                        Ok(rev) => format!("etcd compacted at revision {rev}; "),
                        Err(e) => format!("compaction failed: {e}; "),
                    }
                } else {
                    String::new()
                };
                match cp.restart_apiserver(stop) {
                    Ok(took) => format!("{compacted}ready again after {:.1}s", took.as_secs_f64()),
                    Err(e) => format!("{compacted}restart failed: {e}"),
                }
            })
            .await
            .unwrap_or_else(|e| format!("restart panicked: {e}"));
            if outcome.contains("failed") {
                journal.violation(
                    "the harness can inject its faults",
                    "faults",
                    outcome.clone(),
                );
            }
            journal.fault_ended(id, &outcome);
        }
        FaultKind::Burst503 | FaultKind::Burst502 | FaultKind::Burst429 => {
            let status = match kind {
                FaultKind::Burst503 => 503,
                FaultKind::Burst502 => 502,
                _ => 429,
            };
            let rate = 0.3 + rng.f64() * 0.7;
            let retry_after = (status != 502).then(|| rng.u64(1..=3));
            let length = secs(&mut rng, 3.0, 15.0);
            let fault = Fault {
                status,
                rate,
                retry_after,
                ..Fault::default()
            };
            let id = journal.fault_started(
                kind.name(),
                format!(
                    "rate {rate:.2}, Retry-After {retry_after:?}, for {:.1}s",
                    length.as_secs_f64()
                ),
            );
            burst(shared, state, id as u64, Some(fault));
            tokio::time::sleep(length).await;
            burst(shared, state, id as u64, None);
            journal.fault_ended(id, "");
        }
        FaultKind::Slow => {
            let latency = Duration::from_millis(rng.u64(200..=4000));
            let length = secs(&mut rng, 5.0, 20.0);
            let id = journal.fault_started(
                kind.name(),
                format!(
                    "{} ms per request for {:.1}s",
                    latency.as_millis(),
                    length.as_secs_f64()
                ),
            );
            control.set_latency(latency);
            tokio::time::sleep(length).await;
            control.set_latency(Duration::ZERO);
            journal.fault_ended(id, "");
        }
        FaultKind::AuthentikDown => {
            let length = secs(&mut rng, 5.0, 30.0);
            let id =
                journal.fault_started(kind.name(), format!("for {:.1}s", length.as_secs_f64()));
            control.set_down(true);
            tokio::time::sleep(length).await;
            control.set_down(false);
            journal.fault_ended(id, "");
        }
        FaultKind::LostAnswer => {
            let method = ["POST", "POST", "POST", "PATCH", "DELETE"][rng.usize(..5)];
            let times = rng.u32(1..=3);
            let id = journal.fault_started(kind.name(), format!("the next {times} {method}s"));
            control.lose_answers(LostAnswer {
                method: Some(method.into()),
                times: Some(times),
                ..LostAnswer::default()
            });
            let began = journal.now();
            while !control.lost_answers().is_empty() && journal.now() - began < 30.0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let left = control
                .lost_answers()
                .first()
                .and_then(|l| l.times)
                .unwrap_or(0);
            control.clear_lost_answers();
            journal.fault_ended(id, &format!("{} lost", times - left));
        }
        FaultKind::SimRestart => {
            let down = secs(&mut rng, 0.5, 8.0);
            let starting = rng.bool().then(|| secs(&mut rng, 1.0, 4.0));
            let id = journal.fault_started(
                kind.name(),
                format!(
                    "down {:.1}s, then 503 \"starting\" for {starting:?}",
                    down.as_secs_f64()
                ),
            );
            let outcome = match shared.env.sim.restart(down).await {
                Ok(()) => String::new(),
                Err(e) => format!("restart failed: {e}"),
            };
            if let Some(starting) = starting {
                let fault = Fault {
                    status: 503,
                    ..Fault::default()
                };
                burst(shared, state, u64::MAX - id as u64, Some(fault));
                tokio::time::sleep(starting).await;
                burst(shared, state, u64::MAX - id as u64, None);
            }
            journal.fault_ended(id, &outcome);
        }
    }
}

/// Adds (`Some`) or removes (`None`) burst `id`; the others stay.
fn burst(shared: &Shared, state: &State, id: u64, fault: Option<Fault>) {
    let mut bursts = state.bursts.lock().unwrap();
    match fault {
        Some(f) => bursts.push((id, f)),
        None => bursts.retain(|(i, _)| *i != id),
    }
    let control = shared.env.sim.control();
    control.clear_faults();
    for (_, f) in bursts.iter() {
        control.inject_fault(f.clone());
    }
}

/// Ends every fault the simulator still has (the run is over).
pub fn clear(shared: &Shared) {
    let control = shared.env.sim.control();
    control.clear_faults();
    control.clear_lost_answers();
    control.set_latency(Duration::ZERO);
    control.set_down(false);
}
