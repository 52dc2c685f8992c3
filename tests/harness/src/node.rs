//! The node tier: containerd, a kubelet, kube-controller-manager and kube-scheduler next to a
//! [`ControlPlane`], so that Deployments really run. See [`Node`].

use std::fs;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::binaries::ensure_node_binaries;
use crate::control_plane::ControlPlane;
use crate::error::{Error, io_err};
use crate::launch::arg;
use crate::node_host::{BRIDGE, HOST_IP, POD_SUBNET, cleanup_script, hierarchies, nat_rule};
use crate::process::{log_tail, pid_alive, spawn_tied, write_private};

/// The node's name: the apiserver dials the kubelet by it (`kubectl logs`, `exec`).
pub const NODE_NAME: &str = "localhost";
/// The sandbox ("pause") image, built from busybox at start.
const PAUSE_IMAGE: &str = "localhost/testenv-pause:1";
/// One node tier per machine (the bridge, the NAT rule and the node name are fixed): an
/// abstract socket, released by the kernel with its last holder.
const LOCK_NAME: &[u8] = b"authentik-operator-testenv-node";
const DIR_PREFIX: &str = "testenv-node-";
const PACKAGES: [(&str, &str); 6] = [
    ("containerd", "containerd"),
    ("runc", "runc"),
    ("umoci", "umoci"),
    ("busybox", "busybox-static"),
    ("iptables", "iptables"),
    ("/usr/lib/cni/bridge", "containernetworking-plugins"),
];

/// A running node tier. Stopped by [`Node::stop`] or on drop; see [`Node::start`].
pub struct Node {
    dir: PathBuf,
    procs: Mutex<Vec<(&'static str, Child)>>,
    watcher: Mutex<Option<Child>>,
    lock: Mutex<Option<UnixListener>>,
    socket: PathBuf,
    started_in: Duration,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts the node tier for `cp`, which must have been started with
    /// [`Options::for_node`](crate::Options::for_node), and waits until the node is Ready and
    /// the controller manager has created the `default` ServiceAccount.
    ///
    /// * **containerd** (Debian's) with its own root, state and socket in a private folder,
    ///   `restrict_oom_score_adj` (root here lacks `CAP_SYS_RESOURCE`), a busybox pause image;
    /// * **kubelet** named [`NODE_NAME`], serving on `127.0.0.1` and trusting the control
    ///   plane's CA (the apiserver presents the admin certificate), cgroupfs on cgroup v1;
    /// * **kube-controller-manager** (ServiceAccounts, `kube-root-ca.crt`, ReplicaSets, garbage
    ///   collection) and **kube-scheduler**;
    /// * the pod network: bridge `testenv0` with the host at [`Node::host_ip`] and the pods in
    ///   `10.244.0.0/24`, and one NAT rule from the `kubernetes` Service (`10.0.0.1:443`) to the
    ///   apiserver's loopback port (no kube-proxy). A server that pods must reach listens on
    ///   [`Node::host_ip`].
    ///
    /// Everything it changes on the machine is put back by one script written first (see
    /// `node_host`): on stop, by a detached watcher when this process dies, or by the next
    /// start on this machine. Waits (up to the deadline) while another node tier runs here.
    pub fn start(cp: &ControlPlane) -> Result<Node, Error> {
        let began = Instant::now();
        if !cp.for_node() {
            return Err(Error::Node(
                "the control plane was not started with Options::for_node".into(),
            ));
        }
        check_packages()?;
        let bin = ensure_node_binaries()?;
        let deadline = began + Duration::from_secs(300);
        let lock = take_lock(deadline)?;
        remove_stale_nodes();

        let dir = create_node_dir()?;
        let cgroup = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let port = cp
            .server_url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| Error::Node(format!("no port in {}", cp.server_url())))?;
        let script = dir.join("cleanup.sh");
        write_private(&script, &cleanup_script(&dir, &cgroup, port))?;
        let mut node = Node {
            dir: dir.clone(),
            procs: Mutex::new(Vec::new()),
            watcher: Mutex::new(None),
            lock: Mutex::new(None),
            socket: dir.join("containerd.sock"),
            started_in: Duration::ZERO,
        };
        // From here on, dropping `node` (an error) puts everything back.
        *node.watcher.get_mut().unwrap() = spawn_cleanup_watcher(&dir, &lock).ok();
        *node.lock.get_mut().unwrap() = Some(lock);

        let procs_file = create_cgroups(&cgroup)?;
        setup_network(port)?;
        let pki = cp.dir().join("pki");
        write_configs(&dir, &cgroup, &pki)?;

        let mut containerd = Command::new("containerd");
        containerd.arg(arg("--config=", &dir.join("containerd.toml")));
        node.spawn("containerd", containerd, &procs_file)?;
        node.wait_until("containerd", deadline, || {
            node.ctr()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })?;
        let pause = dir.join("pause.tar");
        build_pause_image(&dir, &pause)?;
        node.import_image(&pause, "localhost/testenv-pause")?;

        let kubeconfig = cp.kubeconfig().to_path_buf();
        let mut kubelet = Command::new(bin.join("kubelet"));
        kubelet
            .arg(arg("--config=", &dir.join("kubelet.yaml")))
            .arg(arg("--kubeconfig=", &kubeconfig))
            .arg(arg("--root-dir=", &dir.join("kubelet")))
            .arg(arg("--cert-dir=", &dir.join("kubelet-pki")))
            .arg(format!("--hostname-override={NODE_NAME}"))
            // A node IP may not be loopback: the host's address on the bridge. The apiserver
            // still dials the kubelet by name (localhost), where it listens.
            .arg(format!("--node-ip={}", Ipv4Addr::from(HOST_IP)))
            .arg("--v=1");
        node.spawn("kubelet", kubelet, &procs_file)?;

        let mut kcm = Command::new(bin.join("kube-controller-manager"));
        kcm.arg(arg("--kubeconfig=", &kubeconfig))
            .arg(arg(
                "--service-account-private-key-file=",
                &pki.join("sa.key"),
            ))
            .arg(arg("--root-ca-file=", &pki.join("ca.crt")))
            .arg("--leader-elect=false")
            .arg("--secure-port=0")
            .arg("--use-service-account-credentials=false");
        node.spawn("kube-controller-manager", kcm, &procs_file)?;

        let mut scheduler = Command::new(bin.join("kube-scheduler"));
        scheduler
            .arg(arg("--kubeconfig=", &kubeconfig))
            .arg("--leader-elect=false")
            .arg("--secure-port=0");
        node.spawn("kube-scheduler", scheduler, &procs_file)?;

        node.wait_until("kubelet", deadline, || {
            cp.run_kubectl([
                "get",
                "node",
                NODE_NAME,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ])
            .is_ok_and(|s| s.trim() == "True")
        })?;
        node.wait_until("kube-controller-manager", deadline, || {
            cp.run_kubectl(["get", "serviceaccount", "default", "-n", "default"])
                .is_ok()
        })?;
        node.started_in = began.elapsed();
        Ok(node)
    }

    /// The host's address on the pod network: pods reach servers of the test there (bind
    /// them to it; the apiserver is reached through the `kubernetes` Service instead).
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(HOST_IP)
    }

    /// The private folder: configurations, logs (`containerd.log`, `kubelet.log`,
    /// `kube-controller-manager.log`, `kube-scheduler.log`), the runtimes' state. Removed on
    /// stop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long [`start`](Self::start) took.
    pub fn startup_duration(&self) -> Duration {
        self.started_in
    }

    /// `ctr` on this node's containerd, in the Kubernetes namespace; add the arguments.
    pub fn ctr(&self) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg(arg("--address=", &self.socket))
            .args(["--namespace", "k8s.io"])
            .stdin(Stdio::null());
        cmd
    }

    /// Imports an OCI image archive whose image is tagged `TAG` (see `oci-image.sh`) as
    /// `repository:TAG`, for pods with `imagePullPolicy: Never` or `IfNotPresent`.
    pub fn import_image(&self, archive: &Path, repository: &str) -> Result<(), Error> {
        let out = self
            .ctr()
            .args(["images", "import", "--base-name", repository])
            .arg(archive)
            .output()
            .map_err(io_err("running ctr images import"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Node(format!(
                "ctr images import {}: {}",
                archive.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The end of a component's log (`containerd`, `kubelet`, `kube-controller-manager`,
    /// `kube-scheduler`), for failure messages.
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        log_tail(&self.dir.join(format!("{component}.log")), lines)
    }

    /// Stops every process of the node tier and puts the machine back as it was (the cleanup
    /// script). Idempotent; also done on drop. Returns what was left behind, if anything.
    pub fn stop(&self) -> Result<(), Error> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((_, mut child)) = procs.pop() {
            let _ = child.kill();
            let _ = child.wait();
        }
        drop(procs);
        let script = self.dir.join("cleanup.sh");
        let result = if script.exists() {
            match Command::new("sh")
                .arg(&script)
                .stdin(Stdio::null())
                .output()
            {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(Error::Node(format!(
                    "cleanup: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))),
                Err(e) => Err(io_err("running the node cleanup script")(e)),
            }
        } else {
            Ok(())
        };
        if let Some(mut w) = self
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            // SAFETY: signalling the process group of a child we have not reaped yet.
            unsafe { libc::kill(-(w.id() as libc::pid_t), libc::SIGKILL) };
            let _ = w.wait();
        }
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        result
    }

    /// Spawns `cmd` as component `name` in the node's cgroup (so that the cleanup finds it and
    /// everything it starts), output to `name.log`.
    fn spawn(&self, name: &'static str, cmd: Command, procs_file: &Path) -> Result<(), Error> {
        let log_path = self.dir.join(format!("{name}.log"));
        let log = fs::File::create(&log_path)
            .map_err(io_err(format!("creating {}", log_path.display())))?;
        let log2 = log
            .try_clone()
            .map_err(io_err("duplicating a log handle"))?;
        // A shell joins the cgroup, then becomes the program: nothing runs outside it.
        let mut wrapped = Command::new("sh");
        wrapped
            .arg("-c")
            .arg(r#"echo $$ > "$0" && exec "$@""#)
            .arg(procs_file)
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = spawn_tied(wrapped).map_err(|e| Error::Startup {
            component: name,
            reason: format!("could not be spawned: {e}"),
            log: log_path.clone(),
            tail: String::new(),
        })?;
        self.procs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, child));
        Ok(())
    }

    /// Polls `ready` every 200 ms; fails when a component exits or the deadline passes.
    fn wait_until(
        &self,
        name: &'static str,
        deadline: Instant,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), Error> {
        loop {
            for (component, child) in self.procs.lock().unwrap().iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = self.dir.join(format!("{component}.log"));
                    return Err(Error::Startup {
                        component,
                        reason: format!("exited with {status}"),
                        tail: log_tail(&log, 40),
                        log,
                    });
                }
            }
            if ready() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let log = self.dir.join(format!("{name}.log"));
                return Err(Error::Startup {
                    component: name,
                    reason: "not ready before the start-up deadline".into(),
                    tail: log_tail(&log, 40),
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("testenv: {e}");
        }
    }
}

/// The commands of the Debian packages the node tier runs, or an error naming the packages
/// to install (`tests/run.sh` installs them).
fn check_packages() -> Result<(), Error> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(cmd, _)| {
            if cmd.starts_with('/') {
                !Path::new(cmd).exists()
            } else {
                !Command::new("sh")
                    .arg("-c")
                    .arg(format!("command -v {cmd}"))
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }
        })
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Node(format!(
            "missing Debian packages for the node tier: apt-get install {}",
            missing.join(" ")
        )))
    }
}

/// Binds the machine-wide abstract socket, waiting while another node tier holds it.
fn take_lock(deadline: Instant) -> Result<UnixListener, Error> {
    let addr = UnixAddr::from_abstract_name(LOCK_NAME).map_err(io_err("the node lock name"))?;
    let mut said = false;
    loop {
        match UnixListener::bind_addr(&addr) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                if !said {
                    eprintln!("testenv: another node tier runs on this machine; waiting");
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(io_err("taking the node lock")(e)),
        }
    }
}

/// Runs the cleanup script of every node folder whose owner is gone (its process and its
/// watcher were both killed). Called with the lock held.
fn remove_stale_nodes() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let path = entry.path();
        let owner: Option<libc::pid_t> = fs::read_to_string(path.join("owner"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        if owner.is_some_and(|pid| pid > 0 && !pid_alive(pid)) {
            let script = path.join("cleanup.sh");
            if script.exists() {
                eprintln!(
                    "testenv: cleaning up after a node tier that died: {}",
                    path.display()
                );
                let _ = Command::new("sh")
                    .arg(&script)
                    .stdin(Stdio::null())
                    .status();
            }
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// A fresh `testenv-node-<pid>-<random>` folder (mode 0700) with an `owner` file. Its name is
/// also the node's cgroup name. (Short: containerd's socket lives in it.)
fn create_node_dir() -> Result<PathBuf, Error> {
    use std::os::unix::fs::DirBuilderExt;
    let pid = std::process::id();
    loop {
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{pid}-{:08x}", fastrand::u32(..)));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                write_private(&dir.join("owner"), &pid.to_string())?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(format!("creating {}", dir.display()))(e)),
        }
    }
}

/// A detached `sh` (own session) that runs the cleanup script once this process is gone. It
/// holds a copy of the lock (as fd 3), so no other node starts before the machine is clean.
fn spawn_cleanup_watcher(dir: &Path, lock: &UnixListener) -> io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done; sh "$2/cleanup.sh""#)
        .arg("testenv-node-watcher")
        .arg(std::process::id().to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let fd = lock.as_raw_fd();
    // SAFETY: setsid and dup2 are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::dup2(fd, 3) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// The node's cgroup in every v1 hierarchy (the kubelet's `cgroupRoot`; the pods go below it),
/// plus `runtime` below it in the `pids` hierarchy for the node's own processes. Returns that
/// one's `cgroup.procs`.
fn create_cgroups(cgroup: &str) -> Result<PathBuf, Error> {
    for h in hierarchies() {
        let dir = h.join(cgroup);
        fs::create_dir(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        if h.ends_with("cpuset") {
            // A cpuset cgroup starts with no CPUs and no memory nodes: take the parent's.
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let v = fs::read_to_string(h.join(f)).map_err(io_err(format!("reading {f}")))?;
                fs::write(dir.join(f), v.trim()).map_err(io_err(format!("writing {f}")))?;
            }
        }
    }
    let runtime = Path::new("/sys/fs/cgroup/pids")
        .join(cgroup)
        .join("runtime");
    fs::create_dir(&runtime).map_err(io_err(format!("creating {}", runtime.display())))?;
    Ok(runtime.join("cgroup.procs"))
}

/// The bridge with the host's address, `route_localnet` on it (so a DNAT to 127.0.0.1 from
/// the bridge is routed), and the NAT rule to the apiserver.
fn setup_network(apiserver_port: u16) -> Result<(), Error> {
    let host = Ipv4Addr::from(HOST_IP);
    let prefix = POD_SUBNET.rsplit('/').next().unwrap_or("24");
    run("ip", &["link", "add", BRIDGE, "type", "bridge"])?;
    run(
        "ip",
        &["addr", "add", &format!("{host}/{prefix}"), "dev", BRIDGE],
    )?;
    run("ip", &["link", "set", BRIDGE, "up"])?;
    fs::write(
        format!("/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet"),
        "1",
    )
    .map_err(io_err("setting route_localnet on the bridge"))?;
    let mut args = vec!["-w".to_string(), "-t".into(), "nat".into(), "-A".into()];
    args.extend(nat_rule(apiserver_port));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("iptables", &args)
}

fn run(program: &str, args: &[&str]) -> Result<(), Error> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(format!("running {program}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Node(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// containerd's, the CNI's and the kubelet's configurations, all pointing into `dir`.
fn write_configs(dir: &Path, cgroup: &str, pki: &Path) -> Result<(), Error> {
    let d = dir.display();
    let host = Ipv4Addr::from(HOST_IP);
    fs::create_dir_all(dir.join("cni/net.d")).map_err(io_err("creating cni/net.d"))?;
    write_private(
        &dir.join("cni/net.d/10-testenv.conflist"),
        &format!(
            r#"{{"cniVersion": "0.4.0", "name": "testenv", "plugins": [{{
  "type": "bridge", "bridge": "{BRIDGE}", "isGateway": true, "isDefaultGateway": true,
  "ipMasq": false, "hairpinMode": true,
  "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{POD_SUBNET}", "gateway": "{host}"}}]],
           "dataDir": "{d}/cni/ipam"}}
}}]}}
"#
        ),
    )?;
    write_private(
        &dir.join("containerd.toml"),
        &format!(
            r#"version = 2
root = "{d}/containerd/root"
state = "{d}/containerd/state"
# Plugins that would write outside the folder, or that nothing here uses.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.internal.v1.tracing",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails in runc.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
"#
        ),
    )?;
    write_private(&dir.join("resolv.conf"), "")?;
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io_err("finding a free port for the kubelet"))?;
    let ca = pki.join("ca.crt");
    let ca = ca.display();
    write_private(
        &dir.join("kubelet.yaml"),
        &format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# These machines run cgroup v1, which 1.35 refuses unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup}
failSwapOn: false
makeIPTablesUtilChains: false
containerRuntimeEndpoint: unix://{d}/containerd.sock
podLogsDir: {d}/pod-logs
resolvConf: {d}/resolv.conf
address: 127.0.0.1
port: {port}
readOnlyPort: 0
healthzPort: 0
# The apiserver calls the kubelet (logs, exec) with the admin certificate of the same CA.
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: false}}
  x509: {{clientCAFile: {ca}}}
authorization: {{mode: AlwaysAllow}}
# Imported images cannot be pulled again: never collect them, never evict for a full disk
# that is someone else's. Thresholds are absolute: a percentage of a large shared disk is
# gigabytes, and a busy CI machine's disk is often that full (pods were evicted here with
# 870 MiB free).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {{memory.available: 100Mi, nodefs.available: 50Mi, imagefs.available: 50Mi, nodefs.inodesFree: 1%}}
serializeImagePulls: false
"#
        ),
    )
}

/// The sandbox image: busybox (static) as PID 1, waiting for a signal.
fn build_pause_image(dir: &Path, out: &Path) -> Result<(), Error> {
    let rootfs = dir.join("pause-rootfs");
    fs::create_dir_all(rootfs.join("bin")).map_err(io_err("creating the pause root"))?;
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| Error::Node("busybox not found (apt-get install busybox-static)".into()))?;
    fs::copy(busybox, rootfs.join("bin/busybox")).map_err(io_err("copying busybox"))?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/oci-image.sh");
    let out_s = out.display().to_string();
    let root_s = rootfs.display().to_string();
    run(
        "bash",
        &[
            script,
            &root_s,
            &out_s,
            "1",
            "--config.entrypoint",
            "/bin/busybox",
            "--config.entrypoint",
            "sh",
            "--config.entrypoint",
            "-c",
            "--config.entrypoint",
            "trap 'exit 0' TERM INT; /bin/busybox sleep 2147483647 & wait",
        ],
    )?;
    let _ = fs::remove_dir_all(&rootfs);
    Ok(())
}
