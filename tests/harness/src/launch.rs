//! Start-up: free loopback ports, the etcd and kube-apiserver command lines, and waiting for
//! etcd's `/health` and the apiserver's `/readyz`.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::control_plane::Options;
use crate::error::{Error, io_err};
use crate::kubeconfig::{kubeconfig_yaml, kubectl_command};
use crate::process::{Proc, Resources, log_tail, spawn_tied, write_private};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Ports {
    pub(crate) etcd_client: u16,
    pub(crate) etcd_peer: u16,
    pub(crate) apiserver: u16,
}

/// Three distinct free loopback ports (held together while probing so they differ).
pub(crate) fn free_ports() -> Result<Ports, Error> {
    let listeners = (0..3)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(io_err("finding free loopback ports"))?;
    let port = |i: usize| {
        listeners[i]
            .local_addr()
            .map(|a| a.port())
            .map_err(io_err("finding free loopback ports"))
    };
    Ok(Ports {
        etcd_client: port(0)?,
        etcd_peer: port(1)?,
        apiserver: port(2)?,
    })
}

/// Starts etcd, waits for it, starts kube-apiserver and waits for `/readyz` (through
/// `dir/kubeconfig`, which must exist); then writes `dir/kubeconfig-no-user`. The processes
/// go into `res`.
pub(crate) fn launch(
    res: &mut Resources,
    dir: &Path,
    bin_dir: &Path,
    ports: &Ports,
    options: &Options,
    deadline: Instant,
) -> Result<(), Error> {
    start_etcd(res, dir, bin_dir, ports, deadline)?;
    start_apiserver(res, dir, bin_dir, ports, options, deadline)?;
    // A kubeconfig without a user, for kubectl_with_token.
    let server_url = format!("https://127.0.0.1:{}", ports.apiserver);
    let ca =
        fs::read_to_string(dir.join("pki").join("ca.crt")).map_err(io_err("reading ca.crt"))?;
    write_private(
        &dir.join("kubeconfig-no-user"),
        &kubeconfig_yaml(&server_url, &ca, "none", ""),
    )
}

/// Starts etcd on fresh data in `dir/etcd-data` and waits for its `/health`.
fn start_etcd(
    res: &mut Resources,
    dir: &Path,
    bin_dir: &Path,
    ports: &Ports,
    deadline: Instant,
) -> Result<(), Error> {
    let etcd_data = dir.join("etcd-data");
    let _ = fs::remove_dir_all(&etcd_data);
    let client = format!("http://127.0.0.1:{}", ports.etcd_client);
    let peer = format!("http://127.0.0.1:{}", ports.etcd_peer);
    let mut etcd = Command::new(bin_dir.join("etcd"));
    etcd.arg("--name=testenv")
        .arg(arg("--data-dir=", &etcd_data))
        .arg(format!("--listen-client-urls={client}"))
        .arg(format!("--advertise-client-urls={client}"))
        .arg(format!("--listen-peer-urls={peer}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster=testenv={peer}"))
        .arg("--unsafe-no-fsync");
    start_process(res, "etcd", etcd, dir)?;
    let etcd_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), ports.etcd_client);
    wait_until(res, "etcd", deadline, || {
        http_get(etcd_addr, "/health").is_some_and(|r| r.contains("\"health\":\"true\""))
    })
}

/// Starts kube-apiserver on the running etcd and waits for `/readyz` (through
/// `dir/kubeconfig`). Also how [`ControlPlane::restart_apiserver`](crate::ControlPlane)
/// starts it again: same port, same certificates, same etcd.
pub(crate) fn start_apiserver(
    res: &mut Resources,
    dir: &Path,
    bin_dir: &Path,
    ports: &Ports,
    options: &Options,
    deadline: Instant,
) -> Result<(), Error> {
    let client = format!("http://127.0.0.1:{}", ports.etcd_client);
    let pki = dir.join("pki");
    let mut apiserver = Command::new(bin_dir.join("kube-apiserver"));
    apiserver
        .arg(format!("--etcd-servers={client}"))
        .arg(format!("--secure-port={}", ports.apiserver))
        .arg("--bind-address=127.0.0.1")
        .arg("--advertise-address=127.0.0.1")
        .arg(arg("--cert-dir=", &pki))
        .arg(arg("--tls-cert-file=", &pki.join("apiserver.crt")))
        .arg(arg("--tls-private-key-file=", &pki.join("apiserver.key")))
        .arg(arg("--client-ca-file=", &pki.join("ca.crt")))
        .arg("--authorization-mode=RBAC")
        .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
        .arg(arg("--service-account-key-file=", &pki.join("sa.pub")))
        .arg(arg(
            "--service-account-signing-key-file=",
            &pki.join("sa.key"),
        ))
        .arg("--service-cluster-ip-range=10.0.0.0/24")
        .arg(arg("--kubelet-client-certificate=", &pki.join("admin.crt")))
        .arg(arg("--kubelet-client-key=", &pki.join("admin.key")))
        // The `kubernetes` Service gets no Endpoints: 127.0.0.1 is not a valid endpoint address
        // and nothing could route to it anyway.
        .arg("--endpoint-reconciler-type=none")
        .arg("--allow-privileged=true")
        .arg("--profiling=false")
        // Without a node's controller manager nothing creates the `default` ServiceAccount,
        // which the plugin requires of every Pod; see the crate docs.
        .args((!options.for_node).then_some("--disable-admission-plugins=ServiceAccount"))
        .args(&options.apiserver_args);
    start_process(res, "kube-apiserver", apiserver, dir)?;

    let kubeconfig = dir.join("kubeconfig");
    let api_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), ports.apiserver);
    wait_until(res, "kube-apiserver", deadline, || {
        // Probe the port first: spawning kubectl while nothing listens is wasted work.
        if TcpStream::connect_timeout(&api_addr, Duration::from_millis(500)).is_err() {
            return false;
        }
        kubectl_command(bin_dir, &kubeconfig, dir)
            .args(["get", "--raw", "/readyz", "--request-timeout=5s"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "ok")
    })
}

/// `flag` immediately followed by `path`, e.g. `--data-dir=/tmp/...`.
pub(crate) fn arg(flag: &str, path: &Path) -> OsString {
    let mut s = OsString::from(flag);
    s.push(path);
    s
}

/// Spawns `cmd` as process `name` (see [`spawn_tied`]) in `dir`, stdout and stderr to
/// `dir/<name>.log`.
fn start_process(
    res: &mut Resources,
    name: &'static str,
    mut cmd: Command,
    dir: &Path,
) -> Result<(), Error> {
    let log_path = dir.join(format!("{name}.log"));
    // Appended to: a restarted process continues its predecessor's log.
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_err(format!("creating {}", log_path.display())))?;
    let log2 = log
        .try_clone()
        .map_err(io_err("duplicating a log handle"))?;
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    let child = spawn_tied(cmd).map_err(|e| Error::Startup {
        component: name,
        reason: format!("could not be spawned: {e}"),
        log: log_path.clone(),
        tail: String::new(),
    })?;
    res.procs.push(Proc { name, child });
    Ok(())
}

/// Polls `ready` every 100 ms; fails when the process `name` exits or the deadline passes.
fn wait_until(
    res: &mut Resources,
    name: &'static str,
    deadline: Instant,
    mut ready: impl FnMut() -> bool,
) -> Result<(), Error> {
    let log = res
        .dir
        .as_ref()
        .map(|d| d.join(format!("{name}.log")))
        .unwrap_or_default();
    let fail = |reason: String| Error::Startup {
        component: name,
        reason,
        log: log.clone(),
        tail: log_tail(&log, 40),
    };
    loop {
        for p in &mut res.procs {
            if let Ok(Some(status)) = p.child.try_wait() {
                let log = res
                    .dir
                    .as_ref()
                    .map(|d| d.join(format!("{}.log", p.name)))
                    .unwrap_or_default();
                return Err(Error::Startup {
                    component: p.name,
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
            return Err(fail(
                "not ready before the start-up deadline (TESTENV_START_TIMEOUT)".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal HTTP/1.0 GET on loopback; the whole response if the status is 200.
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let status_line = response.lines().next()?;
    (status_line.split_whitespace().nth(1) == Some("200")).then_some(response)
}
