//! A run from start to end: the parts started, the faults' time, then the checks only the
//! end can make — everything converges once the faults stop, a quiet period without a write,
//! a teardown that leaves nothing behind, no token in any log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams};
use tokio_util::sync::CancellationToken;

use super::checker::{self, Tracker};
use super::report::{End, Report};
use super::{Shared, alice, faults, workload};
use crate::common::TOKEN;

pub async fn run(shared: Arc<Shared>, dir: PathBuf) -> Report {
    let journal = shared.journal.clone();
    let all = CancellationToken::new();
    let supervisor = tokio::spawn({
        let (s, stop) = (shared.clone(), all.clone());
        async move { s.replicas.supervise(stop).await }
    });
    let memory = tokio::spawn({
        let (s, stop) = (shared.clone(), all.clone());
        async move { s.replicas.sample_memory(s.env.client.clone(), stop).await }
    });
    let began = journal.now();
    while shared.replicas.leader(&shared.env.client).await.is_none() {
        assert!(
            journal.now() - began < 60.0,
            "no replica became leader within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    journal.note("run", "a leader; the run starts");

    let (work, checking) = (CancellationToken::new(), CancellationToken::new());
    let checker = tokio::spawn(check_loop(shared.clone(), checking.clone()));
    let parts = [
        tokio::spawn(workload::run(shared.clone(), work.clone())),
        tokio::spawn(alice::run(shared.clone(), work.clone())),
        tokio::spawn(faults::run(shared.clone(), work.clone())),
    ];
    tokio::time::sleep(shared.cfg.duration).await;
    eprintln!(
        "[{:7.1}s] the client, the authentik user and the faults stop",
        journal.now()
    );
    work.cancel();
    for part in parts {
        let _ = part.await;
    }
    faults::clear(&shared);
    let ran = journal.now();
    checking.cancel();
    let mut tracker = checker.await.expect("checker");

    let converged = converge(&shared, &mut tracker).await;
    let held = shared.snapshot().map_or((0, 0), |snap| {
        let objects = snap
            .objects
            .values()
            .flatten()
            .filter(|o| checker::pk_of(o).is_some_and(|pk| !shared.baseline.contains(&pk)))
            .count();
        (snap.resources.len(), objects)
    });
    eprintln!(
        "[{:7.1}s] converged: {converged:?}; quiet period",
        journal.now()
    );
    let (authentik_writes, resource_writes) = quiet(&shared, &mut tracker).await;
    eprintln!("[{:7.1}s] teardown", journal.now());
    let teardown = teardown(&shared, &mut tracker).await;
    let log_lines = scan_for_tokens(&shared).await;

    all.cancel();
    let _ = supervisor.await;
    let _ = memory.await;
    let replicas = shared.replicas.clone();
    let _ = tokio::task::spawn_blocking(move || replicas.shutdown()).await;
    let end = End {
        ran,
        held,
        converged,
        quiet: shared.cfg.quiet.as_secs_f64(),
        authentik_writes,
        resource_writes,
        teardown,
        log_lines,
        longest: tracker.longest,
        longest_subject: tracker.longest_subject.clone(),
        dir,
    };
    Report::build(&shared, end)
}

async fn check_loop(shared: Arc<Shared>, stop: CancellationToken) -> Tracker {
    let mut tracker = Tracker::default();
    while !stop.is_cancelled() {
        round(&shared, &mut tracker).await;
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(shared.cfg.check_every) => {}
        }
    }
    tracker
}

/// One check of every invariant on a fresh snapshot; the problems found (`None`: the API
/// server did not answer).
async fn round(shared: &Shared, tracker: &mut Tracker) -> Option<usize> {
    match checker::take(shared).await {
        Ok(snap) => {
            let (found, checks) = checker::problems(shared, &snap);
            shared.journal.count("invariant checks", checks);
            shared.journal.count("check rounds", 1);
            tracker.update(shared, &found);
            shared.set_snapshot(snap);
            Some(found.len())
        }
        Err(_) => {
            shared
                .journal
                .count("check rounds skipped (API server away)", 1);
            None
        }
    }
}

/// How long after the faults stopped everything was as it should be (`None`: not within the
/// bound and then some; the tracker has reported what was not).
async fn converge(shared: &Shared, tracker: &mut Tracker) -> Option<f64> {
    let from = shared.journal.now();
    let limit = shared.cfg.bound.as_secs_f64() + 30.0;
    loop {
        if round(shared, tracker).await == Some(0) {
            return Some(shared.journal.now() - from);
        }
        if shared.journal.now() - from > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Nothing to do: no write to authentik and none to the resources for the quiet period.
async fn quiet(shared: &Shared, tracker: &mut Tracker) -> (usize, usize) {
    let control = shared.env.sim.control();
    let before = loop {
        if let Ok(s) = checker::take(shared).await {
            break s;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    control.clear_requests();
    tokio::time::sleep(shared.cfg.quiet).await;
    let writes: Vec<String> = control
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {} {}", r.method, r.path, r.body.unwrap_or_default()))
        .collect();
    if !writes.is_empty() {
        shared.journal.violation(
            "no write to authentik in the quiet period (no loop)",
            "run",
            format!("{} writes:\n{}", writes.len(), writes.join("\n")),
        );
    }
    let after = loop {
        if let Ok(s) = checker::take(shared).await {
            break s;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let changed: Vec<String> = after
        .resources
        .iter()
        .filter(|(k, r)| {
            before
                .resources
                .get(*k)
                .is_some_and(|b| b.resource_version != r.resource_version)
        })
        .map(|(_, r)| format!("{} (status {})", r.subject(), r.status))
        .collect();
    if !changed.is_empty() {
        shared.journal.violation(
            "no write to the resources in the quiet period (no loop)",
            "run",
            changed.join("\n"),
        );
    }
    let (found, checks) = checker::problems(shared, &after);
    shared.journal.count("invariant checks", checks);
    tracker.update(shared, &found);
    (writes.len(), changed.len())
}

/// Every resource deleted: how long until none is left and authentik holds nothing of the
/// run's (`None`: not within the bound and then some).
async fn teardown(shared: &Shared, tracker: &mut Tracker) -> Option<f64> {
    let from = shared.journal.now();
    for info in &shared.kinds {
        let api = shared.dynamic(info.kind);
        let _ = api
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
    }
    let limit = shared.cfg.bound.as_secs_f64() * 2.0 + 30.0;
    loop {
        if let Ok(snap) = checker::take(shared).await {
            let (found, checks) = checker::problems(shared, &snap);
            shared.journal.count("invariant checks", checks);
            tracker.update(shared, &found);
            let left: Vec<String> = snap.resources.values().map(|r| r.subject()).collect();
            let objects = found.keys().filter(|k| k.starts_with("object ")).count();
            if left.is_empty() && objects == 0 {
                return Some(shared.journal.now() - from);
            }
            if shared.journal.now() - from > limit {
                shared.journal.violation(
                    "a teardown leaves nothing behind",
                    "run",
                    format!("left: {left:?}; problems: {found:#?}"),
                );
                return None;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Neither token in any log line or event; returns how many lines were read.
async fn scan_for_tokens(shared: &Shared) -> usize {
    let mut lines = 0;
    let mut leaks = Vec::new();
    for log in shared.replicas.logs() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        for line in text.lines() {
            lines += 1;
            if line.contains(TOKEN) || line.contains(alice::TOKEN) {
                let redacted = line
                    .replace(TOKEN, "<TOKEN>")
                    .replace(alice::TOKEN, "<TOKEN>");
                leaks.push(format!("{}: {redacted}", log.display()));
            }
        }
    }
    let events: Api<Event> = Api::namespaced(shared.env.client.clone(), &shared.env.ns);
    if let Ok(list) = events.list(&ListParams::default()).await {
        for e in list {
            let text = format!("{:?} {:?}", e.note, e.reason);
            if text.contains(TOKEN) {
                leaks.push(format!("event {:?}", e.metadata.name));
            }
        }
    }
    if !leaks.is_empty() {
        shared.journal.violation(
            "the token appears in no log line",
            "replicas",
            leaks.join("\n"),
        );
    }
    lines
}
