//! The node tier runs a Pod and puts the machine back exactly as it was: after a stop, after
//! the owning process is killed (the watcher), and after both the owner and its watcher are
//! killed (the next start). Needs root and the Debian packages `tests/run.sh` installs.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One test at a time: each compares the whole machine before and after.
static MACHINE: Mutex<()> = Mutex::new(());

/// What the node tier may change on this machine.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    mounts: BTreeSet<String>,
    links: BTreeSet<String>,
    nat_rules: Vec<String>,
    nft_tables: String,
    sysctls: Vec<String>,
    cgroups: BTreeSet<String>,
    host_dirs: BTreeSet<String>,
    node_dirs: BTreeSet<String>,
    node_processes: BTreeSet<String>,
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn host_state() -> HostState {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .collect();
    let links = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let nat_rules = output("iptables-save", &["-t", "nat"])
        .lines()
        .filter(|l| l.starts_with("-A"))
        .map(str::to_string)
        .collect();
    let sysctls = [
        "vm/overcommit_memory",
        "vm/panic_on_oom",
        "kernel/panic",
        "kernel/panic_on_oops",
        "kernel/keys/root_maxkeys",
        "kernel/keys/root_maxbytes",
    ]
    .iter()
    .map(|k| {
        format!(
            "{k}={}",
            std::fs::read_to_string(format!("/proc/sys/{k}"))
                .unwrap()
                .trim()
        )
    })
    .collect();
    let mut cgroups = BTreeSet::new();
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        if let Ok(entries) = std::fs::read_dir(h.path()) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    cgroups.insert(e.path().display().to_string());
                }
            }
        }
    }
    let host_dirs = [
        "/var/lib/kubelet",
        "/var/log/containers",
        "/var/log/pods",
        "/var/lib/cni",
        "/run/containerd",
        "/run/netns",
        "/run/kubernetes",
        "/var/lib/containerd",
        "/opt/containerd",
        "/etc/cni",
    ]
    .iter()
    .filter(|p| Path::new(p).exists())
    .map(|p| p.to_string())
    .collect();
    let node_dirs = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("testenv-node-"))
        .collect();
    // Processes in a node's cgroup, or whose command line names a node's folder.
    let mut node_processes = BTreeSet::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let cgroup = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
        let cmdline = std::fs::read_to_string(e.path().join("cmdline")).unwrap_or_default();
        if cgroup.contains("testenv-node-") || cmdline.contains("testenv-node-") {
            node_processes.insert(format!(
                "{}: {}",
                e.file_name().to_string_lossy(),
                cmdline.replace('\0', " ")
            ));
        }
    }
    HostState {
        mounts,
        links,
        nat_rules,
        nft_tables: output("nft", &["list", "tables"]),
        sysctls,
        cgroups,
        host_dirs,
        node_dirs,
        node_processes,
    }
}

/// Waits (up to 30 s) until the machine is as `before`; panics with the difference.
fn assert_restored(before: &HostState, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = host_state();
        if now == *before {
            return;
        }
        if Instant::now() >= deadline {
            panic!("{what}: the machine was not put back\nbefore: {before:#?}\nafter: {now:#?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A pod that runs (busybox from the pause image) in a namespace enforcing "restricted", and
/// reaches the apiserver through the `kubernetes` Service.
fn run_pod(cluster: &testenv::Cluster) {
    let cp = cluster.control_plane();
    let ns = cp.create_namespace("node").unwrap();
    cp.run_kubectl([
        "label",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=restricted",
    ])
    .unwrap();
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "probe", "namespace": ns},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 65532,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "probe", "image": "localhost/testenv-pause:1", "imagePullPolicy": "Never",
                "command": ["/bin/busybox", "sh", "-c",
                    "echo | /bin/busybox nc -w 5 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT && echo apiserver-reached; /bin/busybox sleep 3600"],
                "securityContext": {"allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"]},
                                    "readOnlyRootFilesystem": true},
            }],
        },
    });
    let file = cluster.node().dir().join("probe.json");
    std::fs::write(&file, pod.to_string()).unwrap();
    cp.run_kubectl(["apply", "-f", &file.display().to_string()])
        .unwrap();
    cp.run_kubectl([
        "wait",
        "-n",
        &ns,
        "pod/probe",
        "--for=condition=Ready",
        "--timeout=90s",
    ])
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.node().log_tail("kubelet", 30)));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = cp
            .run_kubectl(["logs", "-n", &ns, "probe"])
            .unwrap_or_default();
        if logs.contains("apiserver-reached") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pod did not reach the apiserver: {logs}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let exec = cp
        .run_kubectl([
            "exec",
            "-n",
            &ns,
            "probe",
            "--",
            "/bin/busybox",
            "echo",
            "exec-ok",
        ])
        .unwrap();
    assert_eq!(exec.trim(), "exec-ok");
}

#[test]
fn a_node_runs_a_pod_and_stop_puts_the_machine_back() {
    let _one = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let before = host_state();
    let cluster = testenv::Cluster::start().expect("cluster");
    let node = cluster
        .control_plane()
        .run_kubectl(["get", "node", testenv::NODE_NAME, "-o", "name"])
        .unwrap();
    assert_eq!(node.trim(), "node/localhost");
    run_pod(&cluster);
    assert_ne!(host_state(), before, "the node changed nothing?");
    cluster.stop().expect("a clean stop");
    assert_restored(&before, "after stop");
}

/// `testenv up --node` in the background; returns it once it printed the kubeconfig.
fn up_node(dir: &Path) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_testenv"))
        .args(["up", "--node", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("KUBECONFIG="), "{line:?}");
    child
}

/// Pids of the node's cleanup watchers.
fn watchers() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let cmdline = std::fs::read_to_string(e.path().join("cmdline")).ok()?;
            cmdline.contains("testenv-node-watcher").then_some(pid)
        })
        .collect()
}

#[test]
fn a_killed_node_is_cleaned_up_by_its_watcher_or_by_the_next_start() {
    let _one = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let before = host_state();
    let dir = std::env::temp_dir().join(testenv::unique_namespace("node-up"));

    // Owner killed: the watcher cleans up.
    let mut up = up_node(&dir);
    up.kill().unwrap();
    up.wait().unwrap();
    assert_restored(&before, "after SIGKILL of testenv up --node");

    // Owner and watcher killed: containerd's shims and the pause containers outlive them
    // (they are no child of ours), and the next start cleans up first.
    let mut up = up_node(&dir);
    let found = watchers();
    assert_eq!(found.len(), 1, "one watcher: {found:?}");
    // SAFETY: killing the watcher this test started, by pid.
    unsafe { libc::kill(found[0] as libc::pid_t, libc::SIGKILL) };
    up.kill().unwrap();
    up.wait().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_ne!(
        host_state(),
        before,
        "something should be left for the next start"
    );
    let cluster = testenv::Cluster::start().expect("cluster after a dead one");
    cluster.stop().expect("a clean stop");
    assert_restored(&before, "after the next start and stop");
    let _ = std::fs::remove_dir_all(&dir);
}
