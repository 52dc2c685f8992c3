//! Leader election on a `coordination.k8s.io` Lease: only the leader reconciles. Losing the
//! lease stops the controllers and ends the process (non-zero), so the pod restarts clean
//! rather than risking two writers. The lease is renewed half-way through, and a leader
//! that cannot confirm a renewal stops a margin before the lease runs out, before another
//! replica may take it.

use crate::config::RunArgs;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long a stop waits for the lease to be handed back.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

fn lease_namespace(args: &RunArgs) -> String {
    args.lease_namespace
        .clone()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(crate::config::own_namespace)
}

/// Waits for the lease, runs `work` while holding it, and returns when `stop` is cancelled.
pub async fn run_when_leader<F, Fut>(
    client: &Client,
    args: &RunArgs,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stop: CancellationToken,
    work: F,
) -> Result<()>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("authentik-operator-{:016x}", fastrand::u64(..)));
    let duration = args.lease_duration.as_secs().max(2);
    // Renewed half-way, so that a leader that cannot renew has half the lease to notice and
    // stop before another may take it (see `lease_slips`).
    let grace = (duration / 2).max(1);
    let manager = LeaseManagerBuilder::new(client.clone(), &args.lease_name)
        .with_namespace(lease_namespace(args))
        .with_identity(identity.clone())
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .map_err(|e| Error::Config(format!("leader election: {e}")))?;
    let (mut leader, task) = manager.watch().await;
    // A standby is healthy: ready while it waits, so rolling updates and scrapes see it.
    ready.store(true, Ordering::Relaxed);
    tracing::info!(%identity, lease = %args.lease_name, "waiting for leadership");
    if !wait_for(&mut leader, true, &stop).await {
        drop(leader);
        // Bounded: with the API server gone the lease task retries for ever, and a SIGTERM
        // must still end the process.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, task).await;
        return Ok(());
    }
    metrics.leader.set(1);
    // Not ready again until this replica's caches have synced (the controllers set it).
    ready.store(false, Ordering::Relaxed);
    tracing::info!(%identity, "became leader");
    let work_stop = stop.child_token();
    let run = work(work_stop.clone());
    tokio::pin!(run);
    let lease = Held {
        api: kube::Api::namespaced(client.clone(), &lease_namespace(args)),
        name: &args.lease_name,
        identity: &identity,
        margin: std::time::Duration::from_millis(grace * 1000 / 2),
    };
    let lost = tokio::select! {
        res = &mut run => { res?; false }
        held = wait_for(&mut leader, false, &stop) => held,
        why = lease.slips() => {
            tracing::warn!(%identity, "{why}; stopping before another replica may take the lease");
            true
        }
    };
    work_stop.cancel();
    metrics.leader.set(0);
    if lost {
        let _ = run.await;
    }
    drop(leader);
    // Hand the lease back at once on a clean stop, so the next leader need not wait it out.
    if let Ok(Ok(Ok(manager))) = tokio::time::timeout(SHUTDOWN_GRACE, task).await {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, manager.release()).await;
    }
    ended(lost, stop.is_cancelled())
}

/// How a leader's run ends: a lost lease is an error (the pod restarts clean and competes
/// again), unless a stop was asked for meanwhile. A SIGTERM that meets a lease lost in the
/// same moment (the API server restarting) is still the clean stop the kubelet asked for,
/// not a crash to show as `Error` in `kubectl get pods`.
fn ended(lost: bool, stopping: bool) -> Result<()> {
    if lost && !stopping {
        return Err(Error::Config(
            "lost the leader lease; exiting so that a fresh start competes again".into(),
        ));
    }
    Ok(())
}

/// The lease this replica holds, as the API server shows it.
struct Held<'a> {
    api: kube::Api<Lease>,
    name: &'a str,
    identity: &'a str,
    /// How long before the lease runs out this replica stops.
    margin: std::time::Duration,
}

impl Held<'_> {
    /// Returns (why) once this replica can no longer be sure it holds the lease: the Lease
    /// names another holder, or its last renewal seen runs out within the margin. The lease
    /// manager reports a loss only once it can read the Lease again, so a leader cut off
    /// from the API server would otherwise go on reconciling after another replica took over
    /// (two writers to authentik; found by the chaos soak, tests/soak.rs).
    async fn slips(&self) -> String {
        let every = (self.margin / 2).max(std::time::Duration::from_millis(100));
        let mut until: Option<SystemTime> = None;
        loop {
            tokio::time::sleep(every).await;
            if let Ok(Ok(Some(lease))) =
                tokio::time::timeout(every, self.api.get_opt(self.name)).await
            {
                let spec = lease.spec.unwrap_or_default();
                match lease_end(&spec, self.identity) {
                    Ok(end) => until = end.or(until),
                    Err(holder) => return format!("the lease is held by {holder}"),
                }
            }
            if let Some(why) = runs_out(until, SystemTime::now(), self.margin) {
                return why;
            }
        }
    }
}

/// When the lease this replica holds runs out, by its last renewal; `Err(holder)` when it
/// names another holder.
fn lease_end(spec: &LeaseSpec, identity: &str) -> std::result::Result<Option<SystemTime>, String> {
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder != identity {
        return Err(if holder.is_empty() {
            "no one".into()
        } else {
            holder.to_string()
        });
    }
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref());
    Ok(renewed.zip(spec.lease_duration_seconds).map(|(at, secs)| {
        SystemTime::from(at.0) + std::time::Duration::from_secs(secs.max(0) as u64)
    }))
}

/// Why to stop now, if the lease known to run out at `until` does so within `margin`.
fn runs_out(
    until: Option<SystemTime>,
    now: SystemTime,
    margin: std::time::Duration,
) -> Option<String> {
    let until = until?;
    (now + margin >= until)
        .then(|| "the lease was not renewed in time (the API server cannot be reached)".to_string())
}

/// Waits until the lock state is `want`; `false` when `stop` came first.
async fn wait_for(rx: &mut watch::Receiver<bool>, want: bool, stop: &CancellationToken) -> bool {
    loop {
        if *rx.borrow_and_update() == want {
            return true;
        }
        tokio::select! {
            _ = stop.cancelled() => return false,
            changed = rx.changed() => if changed.is_err() { return !want },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ended;

    use super::{lease_end, runs_out};
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use std::time::{Duration, SystemTime};

    fn spec(holder: &str, renewed: SystemTime, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(renewed.try_into().expect("a time"))),
            lease_duration_seconds: Some(secs),
            ..Default::default()
        }
    }

    #[test]
    fn a_lease_is_given_up_before_it_runs_out_or_when_another_holds_it() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let end = lease_end(&spec("a", t0, 6), "a").expect("held");
        assert_eq!(end, Some(t0 + Duration::from_secs(6)));
        assert_eq!(lease_end(&spec("b", t0, 6), "a"), Err("b".into()));
        assert_eq!(lease_end(&LeaseSpec::default(), "a"), Err("no one".into()));
        let margin = Duration::from_millis(1500);
        // Renewed half-way (3 s): still held at 4.4 s, given up from 4.5 s, 1.5 s before
        // another replica may take it.
        assert!(runs_out(end, t0 + Duration::from_millis(4400), margin).is_none());
        assert!(runs_out(end, t0 + Duration::from_millis(4500), margin).is_some());
        // Nothing known yet: nothing to give up.
        assert!(runs_out(None, t0, margin).is_none());
    }

    #[test]
    fn a_lost_lease_fails_the_process_unless_a_stop_was_asked_for() {
        assert!(ended(true, false).is_err());
        assert!(ended(true, true).is_ok());
        assert!(ended(false, true).is_ok());
        assert!(ended(false, false).is_ok());
    }
}
