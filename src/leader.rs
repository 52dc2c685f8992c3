//! Leader election on a `coordination.k8s.io` Lease: only the leader reconciles. Losing the
//! lease stops the controllers and ends the process (non-zero), so the pod restarts clean
//! rather than risking two writers.

use crate::config::RunArgs;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    let manager = LeaseManagerBuilder::new(client.clone(), &args.lease_name)
        .with_namespace(lease_namespace(args))
        .with_identity(identity.clone())
        .with_duration(duration)
        .with_grace((duration / 3).max(1))
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
    let lost = tokio::select! {
        res = &mut run => { res?; false }
        held = wait_for(&mut leader, false, &stop) => held,
    };
    work_stop.cancel();
    if lost {
        let _ = run.await;
    }
    metrics.leader.set(0);
    drop(leader);
    // Hand the lease back at once on a clean stop, so the next leader need not wait it out.
    if let Ok(Ok(Ok(manager))) = tokio::time::timeout(SHUTDOWN_GRACE, task).await {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, manager.release()).await;
    }
    if lost {
        return Err(Error::Config(
            "lost the leader lease; exiting so that a fresh start competes again".into(),
        ));
    }
    Ok(())
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
