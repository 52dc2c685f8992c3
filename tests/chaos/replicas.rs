//! Two replicas of the real operator binary with leader election, as a Deployment runs them:
//! a supervisor restarts a replica that exits (as the kubelet restarts its container), a fault
//! kills or stops one on purpose, and each one's memory is sampled while it runs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use tokio_util::sync::CancellationToken;

use super::journal::Journal;

pub const LEASE: &str = "soak";
const SUBJECT: &str = "replicas";

/// How the replicas are run.
#[derive(Clone, Debug)]
pub struct Launch {
    pub binary: String,
    pub kubeconfig: PathBuf,
    pub namespace: String,
    pub authentik_url: String,
    pub token_file: PathBuf,
    pub dir: PathBuf,
    /// Flags beyond the ones every replica gets (intervals, lease duration).
    pub flags: Vec<String>,
    /// The replicas' `RUST_LOG`.
    pub log_filter: String,
}

struct Slot {
    name: &'static str,
    identity: String,
    /// Starts of this slot so far (each gets its own log).
    starts: u32,
    child: Option<Child>,
    /// A fault owns the slot: the supervisor neither restarts nor reports it.
    held: bool,
    leader: bool,
}

/// RSS of one process at one time.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub t: f64,
    pub pid: u32,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub leader: bool,
}

pub struct Replicas {
    launch: Launch,
    journal: Arc<Journal>,
    slots: Mutex<Vec<Slot>>,
    samples: Mutex<Vec<Sample>>,
    /// Every log file written, for the token scan and a violation's context.
    logs: Mutex<Vec<PathBuf>>,
}

impl Replicas {
    pub fn start(launch: Launch, journal: Arc<Journal>) -> Arc<Replicas> {
        std::fs::create_dir_all(&launch.dir).expect("log folder");
        let replicas = Arc::new(Replicas {
            launch,
            journal,
            slots: Mutex::new(Vec::new()),
            samples: Mutex::default(),
            logs: Mutex::default(),
        });
        for name in ["a", "b"] {
            let mut slot = Slot {
                name,
                identity: format!("replica-{name}-1"),
                starts: 0,
                child: None,
                held: false,
                leader: false,
            };
            replicas.spawn(&mut slot);
            replicas.slots().push(slot);
        }
        replicas
    }

    fn slots(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn(&self, slot: &mut Slot) {
        slot.starts += 1;
        let log = self
            .launch
            .dir
            .join(format!("{}-{}.log", slot.name, slot.starts));
        let l = &self.launch;
        let mut cmd = Command::new(&l.binary);
        cmd.env_clear()
            .env("KUBECONFIG", &l.kubeconfig)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // At debug level: more lines in which the token must not appear.
            .env("RUST_LOG", &l.log_filter)
            .args(["run", "--authentik-url", &l.authentik_url])
            .arg("--authentik-token-file")
            .arg(&l.token_file)
            .args(["--namespace", &l.namespace, "--metrics-addr", "127.0.0.1:0"])
            .args(["--leader-election", "--lease-name", LEASE])
            .args([
                "--lease-namespace",
                &l.namespace,
                "--identity",
                &slot.identity,
            ])
            .args(["--log-format", "json"])
            .args(&l.flags)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        let child = testenv::spawn_tied(cmd).expect("operator binary");
        self.journal.note(
            SUBJECT,
            format!(
                "started {} as pid {} (log {})",
                slot.identity,
                child.id(),
                log.display()
            ),
        );
        self.logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(log);
        slot.child = Some(child);
    }

    pub fn logs(&self) -> Vec<PathBuf> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The Lease's holder, if any.
    pub async fn holder(&self, client: &kube::Client) -> Option<String> {
        let leases: Api<Lease> = Api::namespaced(client.clone(), &self.launch.namespace);
        leases
            .get_opt(LEASE)
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
            .filter(|h| !h.is_empty())
    }

    /// The running replica that holds the Lease: (slot, identity, pid).
    pub async fn leader(&self, client: &kube::Client) -> Option<(usize, String, u32)> {
        let holder = self.holder(client).await?;
        let slots = self.slots();
        slots.iter().enumerate().find_map(|(i, s)| {
            let pid = s.child.as_ref()?.id();
            (s.identity == holder && !s.held).then(|| (i, holder.clone(), pid))
        })
    }

    /// Stops slot `i` with `signal` (and waits for the exit, up to `wait`), then after
    /// `restart_after` starts it again, as a new pod (`new_identity`) or the same one's
    /// container restarted. Returns what happened, for the fault's record.
    pub async fn stop_and_restart(
        &self,
        i: usize,
        signal: i32,
        wait: Duration,
        restart_after: Duration,
        new_identity: bool,
    ) -> String {
        let pid = {
            let mut slots = self.slots();
            slots[i].held = true;
            slots[i].child.as_ref().map(Child::id)
        };
        let Some(pid) = pid else {
            self.slots()[i].held = false;
            return "no process to stop".into();
        };
        // SAFETY: signalling our own child, not yet reaped (the slot holds it).
        unsafe { libc::kill(pid as libc::pid_t, signal) };
        let began = std::time::Instant::now();
        let status = loop {
            let exited = {
                let mut slots = self.slots();
                let child = slots[i].child.as_mut().expect("held child");
                child.try_wait().ok().flatten()
            };
            if let Some(status) = exited {
                break Some(status);
            }
            if began.elapsed() > wait {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let took = began.elapsed();
        let outcome = match status {
            Some(s) => format!("pid {pid} exited ({s}) after {:.1}s", took.as_secs_f64()),
            None => {
                let mut slots = self.slots();
                let child = slots[i].child.as_mut().expect("held child");
                let _ = child.kill();
                let _ = child.wait();
                format!(
                    "pid {pid} had not exited {:.0}s after the signal: killed",
                    wait.as_secs_f64()
                )
            }
        };
        if signal == libc::SIGTERM && status.is_none_or(|s| !s.success()) {
            self.journal.violation(
                "a SIGTERM ends the operator cleanly (exit 0)",
                SUBJECT,
                outcome.clone(),
            );
        }
        self.journal.note(SUBJECT, outcome.clone());
        tokio::time::sleep(restart_after).await;
        let mut slots = self.slots();
        let slot = &mut slots[i];
        slot.child = None;
        slot.leader = false;
        if new_identity {
            slot.identity = format!("replica-{}-{}", slot.name, slot.starts + 1);
        }
        self.spawn(slot);
        slot.held = false;
        format!(
            "{outcome}; started again after {:.1}s as {}",
            restart_after.as_secs_f64(),
            slot.identity
        )
    }

    /// Restarts a replica that exited on its own (the operator exits when it loses its
    /// lease), as the kubelet would; reports an exit that was a panic.
    pub async fn supervise(&self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let exited: Vec<(usize, &str, String, std::process::ExitStatus)> = {
                let mut slots = self.slots();
                slots
                    .iter_mut()
                    .enumerate()
                    .filter(|(_, s)| !s.held)
                    .filter_map(|(i, s)| {
                        let status = s.child.as_mut()?.try_wait().ok().flatten()?;
                        s.child = None;
                        Some((i, s.name, s.identity.clone(), status))
                    })
                    .collect()
            };
            for (i, name, identity, status) in exited {
                let log = self
                    .launch
                    .dir
                    .join(format!("{name}-{}.log", self.slots()[i].starts));
                let tail = std::fs::read_to_string(log)
                    .ok()
                    .and_then(|t| t.lines().last().map(str::to_string))
                    .unwrap_or_default();
                self.journal.count("operator exits on its own", 1);
                self.journal
                    .note(SUBJECT, format!("{identity} exited ({status}): {tail}"));
                if tail.contains("panicked") || status.code() == Some(101) {
                    self.journal.violation(
                        "the operator never panics",
                        SUBJECT,
                        format!("{identity} exited ({status}): {tail}"),
                    );
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                let mut slots = self.slots();
                if !slots[i].held && slots[i].child.is_none() {
                    self.spawn(&mut slots[i]);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Samples each replica's memory every second, with whether it leads.
    pub async fn sample_memory(&self, client: kube::Client, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let holder = self.holder(&client).await;
            let t = self.journal.now();
            let mut taken = Vec::new();
            for s in self.slots().iter_mut() {
                s.leader = holder.as_deref() == Some(s.identity.as_str());
                if let Some(pid) = s.child.as_ref().map(Child::id)
                    && let Some((rss, hwm)) = rss_kib(pid)
                {
                    taken.push(Sample {
                        t,
                        pid,
                        rss_kib: rss,
                        hwm_kib: hwm,
                        leader: s.leader,
                    });
                }
            }
            self.samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(taken);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Stops both replicas (SIGTERM, then SIGKILL).
    pub fn shutdown(&self) {
        for s in self.slots().iter_mut() {
            s.held = true;
            if let Some(mut child) = s.child.take() {
                // SAFETY: our own child, not yet reaped.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                let began = std::time::Instant::now();
                while child.try_wait().ok().flatten().is_none()
                    && began.elapsed() < Duration::from_secs(25)
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for s in self.slots().iter_mut() {
            if let Some(mut child) = s.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// VmRSS and VmHWM of a process, in KiB.
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
