//! A real Kubernetes control plane (etcd + kube-apiserver) on loopback, for integration tests
//! and local runs — the Rust counterpart of controller-runtime's `envtest`.
//!
//! [`ControlPlane::start`] runs, in a fresh private temporary directory:
//!
//! * **etcd** on two free `127.0.0.1` ports (client and peer), plain HTTP (loopback only),
//!   `--unsafe-no-fsync` because the data is thrown away;
//! * **kube-apiserver** on a free `127.0.0.1` port, serving TLS with a certificate for
//!   `127.0.0.1`/`localhost` issued by a throw-away CA, client-certificate authentication
//!   against that CA, `--authorization-mode=RBAC`, and service-account keys
//!   (`--service-account-key-file`, `--service-account-signing-key-file`,
//!   `--service-account-issuer`) so the TokenRequest API (`kubectl create token`) works.
//!
//! It waits for etcd's `/health` and the apiserver's `/readyz`, then writes a kubeconfig that
//! holds an admin credential (a client certificate with `O=system:masters`).
//!
//! ```no_run
//! let cp = testenv::shared(); // one per test binary, started on first use
//! let ns = cp.create_namespace("my-test")?; // a fresh namespace per test
//! cp.run_kubectl(["apply", "-f", "crds/"])?;
//! // A kube client: point it at the kubeconfig, e.g.
//! // kube::Config::from_custom_kubeconfig(Kubeconfig::read_from(cp.kubeconfig())?, &Default::default())
//! // or build one from cp.server_url(), cp.ca_pem(), cp.admin_cert_pem(), cp.admin_key_pem().
//! let token = cp.service_account_token(&ns, "operator")?; // least-privilege runs
//! # Ok::<(), testenv::Error>(())
//! ```
//!
//! The binaries (`kube-apiserver`, `etcd`, `kubectl`) come from `$TESTENV_BIN_DIR` when set,
//! otherwise from `tests/controlplane/build.sh`, which builds them from their Go modules once
//! per version into the user's cache and afterwards only prints the folder.
//!
//! # Limits: this is not a whole cluster
//!
//! Only etcd and kube-apiserver run. There is **no kube-controller-manager, scheduler or
//! kubelet**, so:
//!
//! * there is **no garbage collection**: `ownerReferences` are stored but dependents are never
//!   deleted when their owner goes;
//! * **namespaces are never finalized**: a deleted namespace stays `Terminating` forever, with
//!   its objects. Use a fresh namespace per test ([`unique_namespace`],
//!   [`ControlPlane::create_namespace`]) instead of deleting and re-creating one;
//! * no Pod ever runs, no Service gets endpoints, no Deployment gets ReplicaSets;
//! * the `default` ServiceAccount of a namespace is never created (the controller-manager does
//!   that). The `ServiceAccount` admission plugin is therefore disabled, or Pods could not even
//!   be created; create the ServiceAccounts you need yourself. Tokens are minted by the
//!   apiserver itself through the TokenRequest API, which works
//!   ([`ControlPlane::service_account_token`]).
//!
//! # Cleaning up
//!
//! Everything started is stopped by pid and the directory removed by [`ControlPlane::stop`] or
//! on drop. When the process dies instead (a panic that aborts, SIGINT, SIGKILL):
//!
//! * etcd and kube-apiserver are spawned with `PR_SET_PDEATHSIG = SIGKILL` from one dedicated
//!   thread that lives as long as the process (the signal fires when the *spawning thread*
//!   exits, and test threads exit all the time), so the kernel kills them with the process;
//! * a tiny detached watcher (`sh`, in its own session) removes the directory within a second
//!   of the process's death; and any `testenv-*` directory whose owner pid is dead is removed
//!   at the next start;
//! * the [`shared`] control plane, which lives in a `static` and is never dropped, is stopped
//!   by an `atexit` handler when the test binary exits normally (all tests passed or not).

pub mod tls;
pub use tls::LoopbackTls;

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Name prefix of the temporary directories (under [`std::env::temp_dir`]).
const DIR_PREFIX: &str = "testenv-";
/// Start-up deadline unless `TESTENV_START_TIMEOUT` (seconds) or [`Options::start_timeout`].
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);
/// The build script, found relative to this crate.
const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../controlplane/build.sh");
const GO_MOD: &str = include_str!("../../controlplane/go.mod");
const TOOLS: [&str; 3] = ["kube-apiserver", "etcd", "kubectl"];

/// Everything that can go wrong while starting or using the control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binaries could not be found or built.
    #[error("control-plane binaries: {0}")]
    Binaries(String),
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// Generating the certificates or keys failed.
    #[error("generating certificates: {0}")]
    Certificates(#[from] rcgen::Error),
    /// etcd or kube-apiserver exited or did not become ready in time.
    #[error(
        "{component} did not start: {reason}\n--- last lines of {log_path} ---\n{tail}",
        log_path = .log.display()
    )]
    Startup {
        component: &'static str,
        reason: String,
        /// The process's log (gone once the control plane is cleaned up; see `tail`).
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// A kubectl command run by a helper failed.
    #[error("kubectl {args}: {message}")]
    Kubectl { args: String, message: String },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// Knobs for [`ControlPlane::start_with`]. `Options::default()` is what [`ControlPlane::start`]
/// uses.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also write the kubeconfig here (parent folders are created); removed again on stop.
    /// [`ControlPlane::kubeconfig`] then returns this path.
    pub kubeconfig_path: Option<PathBuf>,
    /// Folder with `kube-apiserver`, `etcd` and `kubectl`; default: [`ensure_binaries`].
    pub bin_dir: Option<PathBuf>,
    /// How long etcd plus kube-apiserver may take to become ready; default:
    /// `$TESTENV_START_TIMEOUT` seconds, else 180 s.
    pub start_timeout: Option<Duration>,
    /// Extra kube-apiserver flags, appended last (so they override ours), e.g.
    /// `--feature-gates=...`.
    pub apiserver_args: Vec<String>,
}

/// A running etcd + kube-apiserver pair. Stopped by [`ControlPlane::stop`] or on drop.
pub struct ControlPlane {
    res: Mutex<Resources>,
    dir: PathBuf,
    bin_dir: PathBuf,
    kubeconfig: PathBuf,
    server_url: String,
    etcd_url: String,
    ca_pem: String,
    admin_cert_pem: String,
    admin_key_pem: String,
    pids: Vec<(&'static str, u32)>,
    started_in: Duration,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("server_url", &self.server_url)
            .field("etcd_url", &self.etcd_url)
            .field("dir", &self.dir)
            .field("kubeconfig", &self.kubeconfig)
            .field("pids", &self.pids)
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver and waits until `/readyz` is OK. Blocking; builds the
    /// binaries first when they are missing (see [`ensure_binaries`]).
    pub fn start() -> Result<ControlPlane, Error> {
        Self::start_with(Options::default())
    }

    /// [`ControlPlane::start`] with [`Options`].
    pub fn start_with(options: Options) -> Result<ControlPlane, Error> {
        let began = Instant::now();
        let bin_dir = match &options.bin_dir {
            Some(dir) => check_binaries(dir)?,
            None => ensure_binaries()?,
        };
        let timeout = options.start_timeout.unwrap_or_else(|| {
            std::env::var("TESTENV_START_TIMEOUT")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map_or(DEFAULT_START_TIMEOUT, Duration::from_secs)
        });

        remove_stale_dirs();
        let dir = create_private_dir()?;
        let mut res = Resources {
            dir: Some(dir.clone()),
            procs: Vec::new(),
            watcher: None,
            extra_files: options.kubeconfig_path.iter().cloned().collect(),
        };
        // From here on, dropping `res` (an error) cleans everything up.
        res.watcher = spawn_watcher(&dir, &res.extra_files).ok();

        let pki = Pki::generate()?;
        let pki_dir = dir.join("pki");
        make_private_dir(&pki_dir)?;
        for (name, content) in [
            ("ca.crt", &pki.ca_pem),
            ("apiserver.crt", &pki.serving_cert_pem),
            ("apiserver.key", &pki.serving_key_pem),
            ("admin.crt", &pki.admin_cert_pem),
            ("admin.key", &pki.admin_key_pem),
            ("sa.pub", &pki.sa_public_pem),
            ("sa.key", &pki.sa_private_pem),
        ] {
            write_private(&pki_dir.join(name), content)?;
        }

        let deadline = began + timeout;
        let mut attempt = 0;
        let (ports, kubeconfig_text) = loop {
            attempt += 1;
            let ports = free_ports()?;
            let server_url = format!("https://127.0.0.1:{}", ports.apiserver);
            let text = kubeconfig_yaml(&server_url, &pki.ca_pem, "admin", &admin_user_fields(&pki));
            write_private(&dir.join("kubeconfig"), &text)?;
            match launch(&mut res, &dir, &bin_dir, &ports, &options, deadline) {
                Ok(()) => break (ports, text),
                Err(Error::Startup { tail, .. })
                    if attempt < 3 && tail.contains("address already in use") =>
                {
                    // Another process took a port between our probe and the bind; retry.
                    res.kill_processes();
                }
                Err(e) => return Err(e),
            }
        };

        let mut kubeconfig = dir.join("kubeconfig");
        if let Some(path) = &options.kubeconfig_path {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)
                    .map_err(io_err(format!("creating {}", parent.display())))?;
            }
            write_private(path, &kubeconfig_text)?;
            kubeconfig = path.clone();
        }
        let pids = res.procs.iter().map(|p| (p.name, p.child.id())).collect();
        Ok(ControlPlane {
            res: Mutex::new(res),
            dir,
            bin_dir,
            kubeconfig,
            server_url: format!("https://127.0.0.1:{}", ports.apiserver),
            etcd_url: format!("http://127.0.0.1:{}", ports.etcd_client),
            ca_pem: pki.ca_pem,
            admin_cert_pem: pki.admin_cert_pem,
            admin_key_pem: pki.admin_key_pem,
            pids,
            started_in: began.elapsed(),
        })
    }

    /// The kubeconfig with the admin credential (embedded PEM data, context `testenv`,
    /// namespace `default`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// `http://127.0.0.1:PORT` of etcd (the apiserver's storage; rarely needed).
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// The folder holding `kube-apiserver`, `etcd` and `kubectl`.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The private temporary directory (certificates, etcd data, logs `etcd.log` and
    /// `kube-apiserver.log`). Removed on stop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// PEM of the CA that issued the serving and admin certificates (trust it to talk to
    /// [`server_url`](Self::server_url)).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// PEM of the admin client certificate (`CN=testenv-admin, O=system:masters`).
    pub fn admin_cert_pem(&self) -> &str {
        &self.admin_cert_pem
    }

    /// PEM (PKCS#8, ECDSA P-256) of the admin client key.
    pub fn admin_key_pem(&self) -> &str {
        &self.admin_key_pem
    }

    /// `(name, pid)` of the processes it started: `etcd`, `kube-apiserver`.
    pub fn pids(&self) -> &[(&'static str, u32)] {
        &self.pids
    }

    /// How long [`start`](Self::start) took (binaries, certificates, processes, readiness).
    pub fn startup_duration(&self) -> Duration {
        self.started_in
    }

    /// `kubectl --kubeconfig <admin kubeconfig> --cache-dir <private>`; add the arguments.
    pub fn kubectl(&self) -> Command {
        kubectl_command(&self.bin_dir, &self.kubeconfig, &self.dir)
    }

    /// kubectl authenticating with a bearer `token` only (no client certificate), e.g. a
    /// ServiceAccount token from [`service_account_token`](Self::service_account_token).
    pub fn kubectl_with_token(&self, token: &str) -> Command {
        let mut cmd = kubectl_command(
            &self.bin_dir,
            &self.dir.join("kubeconfig-no-user"),
            &self.dir,
        );
        cmd.arg(format!("--token={token}"));
        cmd
    }

    /// A kubeconfig (YAML text) for this server that authenticates with `token` only.
    pub fn kubeconfig_with_token(&self, token: &str) -> String {
        kubeconfig_yaml(
            &self.server_url,
            &self.ca_pem,
            "token",
            &format!("    token: {token}\n"),
        )
    }

    /// Runs [`kubectl`](Self::kubectl) with `args`; returns stdout, or an error with stderr.
    pub fn run_kubectl<I, S>(&self, args: I) -> Result<String, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let shown = args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let out = self
            .kubectl()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(io_err(format!("running kubectl {shown}")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(Error::Kubectl {
                args: shown,
                message: format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            })
        }
    }

    /// Creates a namespace named [`unique_namespace(prefix)`](unique_namespace) and returns
    /// its name. (Namespaces are never finalized here, so don't count on deleting it.)
    pub fn create_namespace(&self, prefix: &str) -> Result<String, Error> {
        let name = unique_namespace(prefix);
        self.run_kubectl(["create", "namespace", &name])?;
        Ok(name)
    }

    /// Creates ServiceAccount `namespace/name` unless it exists, and returns a token for it
    /// from the TokenRequest API (`kubectl create token`, valid one hour).
    pub fn service_account_token(&self, namespace: &str, name: &str) -> Result<String, Error> {
        if self
            .run_kubectl(["get", "serviceaccount", name, "-n", namespace, "-o", "name"])
            .is_err()
        {
            self.run_kubectl(["create", "serviceaccount", name, "-n", namespace])?;
        }
        let token =
            self.run_kubectl(["create", "token", name, "-n", namespace, "--duration=1h"])?;
        Ok(token.trim().to_owned())
    }

    /// Stops kube-apiserver and etcd (SIGKILL by pid, then reaped) and removes the temporary
    /// directory and the extra kubeconfig. The same happens on drop.
    pub fn stop(self) {
        drop(self);
    }

    fn shutdown(&self) {
        let mut res = self.res.lock().unwrap_or_else(|e| e.into_inner());
        res.release();
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The control plane shared by every test of this test binary: started on first use, stopped
/// when the process exits (normally: an `atexit` handler; killed: see the crate docs).
///
/// Panics (in every caller) when it cannot start.
pub fn shared() -> &'static ControlPlane {
    static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    extern "C" fn stop_shared() {
        let _ = std::panic::catch_unwind(|| {
            if let Some(Ok(cp)) = SHARED.get() {
                cp.shutdown();
            }
        });
    }
    let started = SHARED.get_or_init(|| {
        let result = ControlPlane::start().map_err(|e| e.to_string());
        if result.is_ok() {
            // SAFETY: registering a plain function without captured state.
            unsafe { libc::atexit(stop_shared) };
        }
        result
    });
    match started {
        Ok(cp) => cp,
        Err(e) => panic!("the shared test control plane did not start: {e}"),
    }
}

/// `prefix` + `-` + six random characters, a valid DNS-1123 label (so a valid namespace
/// name): `prefix` is lower-cased, other characters become `-`, and it is shortened to fit.
pub fn unique_namespace(prefix: &str) -> String {
    let mut p: String = prefix
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    p.truncate(63 - 7);
    let p = p.trim_matches('-');
    let p = if p.is_empty() { "test" } else { p };
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..6)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect();
    format!("{p}-{suffix}")
}

/// The `k8s.io/kubernetes` version pinned in `tests/controlplane/go.mod` (e.g. `v1.35.4`),
/// which is what `/version` reports.
pub fn pinned_kubernetes_version() -> &'static str {
    GO_MOD
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("k8s.io/kubernetes "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("unknown")
}

/// The folder with `kube-apiserver`, `etcd` and `kubectl`: `$TESTENV_BIN_DIR` if set,
/// otherwise what `tests/controlplane/build.sh` prints (it builds the binaries from their Go
/// modules when they are missing — many minutes — and returns at once when cached).
/// Concurrent callers on this machine are serialized with a lock on the script.
pub fn ensure_binaries() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os("TESTENV_BIN_DIR").filter(|d| !d.is_empty()) {
        return check_binaries(Path::new(&dir));
    }
    let script = Path::new(BUILD_SCRIPT);
    let lock = File::open(script).map_err(io_err(format!("opening {}", script.display())))?;
    // SAFETY: flock on a file descriptor we own; released when `lock` is dropped.
    while unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(io_err(format!("locking {}", script.display()))(e));
        }
    }
    let out = Command::new("bash")
        .arg(script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(io_err(format!("running {}", script.display())))?;
    if !out.status.success() {
        return Err(Error::Binaries(format!(
            "{} failed ({}); its output is above",
            script.display(),
            out.status
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or_else(|| Error::Binaries(format!("{} printed no folder", script.display())))?;
    check_binaries(Path::new(dir))
}

fn check_binaries(dir: &Path) -> Result<PathBuf, Error> {
    let missing: Vec<_> = TOOLS.iter().filter(|t| !dir.join(t).is_file()).collect();
    if missing.is_empty() {
        Ok(dir.to_path_buf())
    } else {
        Err(Error::Binaries(format!(
            "{missing:?} missing in {}",
            dir.display()
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Processes and cleanup

struct Proc {
    name: &'static str,
    child: Child,
}

/// What has to be undone; `release` is idempotent.
struct Resources {
    dir: Option<PathBuf>,
    procs: Vec<Proc>,
    watcher: Option<Child>,
    extra_files: Vec<PathBuf>,
}

impl Resources {
    /// Kills the started processes, newest (kube-apiserver) first, and reaps them.
    fn kill_processes(&mut self) {
        while let Some(mut p) = self.procs.pop() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }

    fn release(&mut self) {
        self.kill_processes();
        if let Some(dir) = self.dir.take() {
            let _ = fs::remove_dir_all(&dir);
        }
        for f in self.extra_files.drain(..) {
            let _ = fs::remove_file(f);
        }
        if let Some(mut w) = self.watcher.take() {
            // The watcher leads its own session and process group: kill the group, so its
            // `sleep` goes too.
            // SAFETY: signalling the process group of a child we have not reaped yet.
            unsafe { libc::kill(-(w.id() as libc::pid_t), libc::SIGKILL) };
            let _ = w.wait();
        }
    }
}

impl Drop for Resources {
    fn drop(&mut self) {
        self.release();
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from the process-lifetime spawner thread, with `PR_SET_PDEATHSIG = SIGKILL`
/// (the kernel kills the child when that thread — i.e. this process — dies) and in its own
/// process group (a terminal's Ctrl-C goes to us; we decide how the children stop).
fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                // The parent died before prctl took effect.
                libc::_exit(1);
            }
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testenv-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop (and the thread) never ends.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawning the testenv spawner thread");
        tx
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("testenv spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("testenv spawner thread is gone"))?
}

/// A detached `sh` (own session, survives us) that removes `dir` and `extra` once this process
/// is gone. Killed by [`Resources::release`] after a normal stop.
fn spawn_watcher(dir: &Path, extra: &[PathBuf]) -> io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done; shift; rm -rf -- "$@""#)
        .arg("testenv-watcher")
        .arg(std::process::id().to_string())
        .arg(dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
}

fn pid_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe {
        libc::kill(pid, 0) == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
}

/// Removes `testenv-*` directories left by processes that died without cleaning up.
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let path = entry.path();
        let owner = fs::read_to_string(path.join("owner"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        if let Some(pid) = owner
            && pid > 0
            && !pid_alive(pid)
        {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

fn create_private_dir() -> Result<PathBuf, Error> {
    let base = std::env::temp_dir();
    let pid = std::process::id();
    loop {
        let dir = base.join(format!("{DIR_PREFIX}{pid}-{:08x}", fastrand::u32(..)));
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

fn make_private_dir(dir: &Path) -> Result<(), Error> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(io_err(format!("creating {}", dir.display())))
}

fn write_private(path: &Path, content: &str) -> Result<(), Error> {
    let ctx = || format!("writing {}", path.display());
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(ctx()))?;
    f.write_all(content.as_bytes()).map_err(io_err(ctx()))
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// Start-up

struct Ports {
    etcd_client: u16,
    etcd_peer: u16,
    apiserver: u16,
}

/// Three distinct free loopback ports (held together while probing so they differ).
fn free_ports() -> Result<Ports, Error> {
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

fn launch(
    res: &mut Resources,
    dir: &Path,
    bin_dir: &Path,
    ports: &Ports,
    options: &Options,
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
    })?;

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
        // No controller-manager creates the `default` ServiceAccount; see the crate docs.
        .arg("--disable-admission-plugins=ServiceAccount")
        // The `kubernetes` Service gets no Endpoints: 127.0.0.1 is not a valid endpoint address
        // and nothing could route to it anyway.
        .arg("--endpoint-reconciler-type=none")
        .arg("--allow-privileged=true")
        .arg("--profiling=false")
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
    })?;
    // A kubeconfig without a user, for kubectl_with_token.
    let server_url = format!("https://127.0.0.1:{}", ports.apiserver);
    let ca = fs::read_to_string(pki.join("ca.crt")).map_err(io_err("reading ca.crt"))?;
    write_private(
        &dir.join("kubeconfig-no-user"),
        &kubeconfig_yaml(&server_url, &ca, "none", ""),
    )
}

fn arg(flag: &str, path: &Path) -> OsString {
    let mut s = OsString::from(flag);
    s.push(path);
    s
}

fn start_process(
    res: &mut Resources,
    name: &'static str,
    mut cmd: Command,
    dir: &Path,
) -> Result<(), Error> {
    let log_path = dir.join(format!("{name}.log"));
    let log =
        File::create(&log_path).map_err(io_err(format!("creating {}", log_path.display())))?;
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

fn kubectl_command(bin_dir: &Path, kubeconfig: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin_dir.join("kubectl"));
    cmd.arg(arg("--kubeconfig=", kubeconfig))
        .arg(arg("--cache-dir=", &dir.join("kubectl-cache")));
    cmd
}

/// The kubeconfig text, with one user `user` whose `user:` entries are `user_fields` (YAML
/// lines indented by four spaces; empty for a user without credentials).
fn kubeconfig_yaml(server_url: &str, ca_pem: &str, user: &str, user_fields: &str) -> String {
    let user_fields = if user_fields.is_empty() {
        " {}\n".to_owned()
    } else {
        format!("\n{user_fields}")
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testenv\n  cluster:\n    server: {server_url}\n    \
         certificate-authority-data: {ca}\ncontexts:\n- name: testenv\n  context:\n    cluster: testenv\n    \
         user: {user}\n    namespace: default\ncurrent-context: testenv\nusers:\n- name: {user}\n  user:{user_fields}",
        ca = b64(ca_pem),
    )
}

fn admin_user_fields(pki: &Pki) -> String {
    format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&pki.admin_cert_pem),
        b64(&pki.admin_key_pem)
    )
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

// ---------------------------------------------------------------------------------------------
// Certificates

struct Pki {
    ca_pem: String,
    serving_cert_pem: String,
    serving_key_pem: String,
    admin_cert_pem: String,
    admin_key_pem: String,
    sa_public_pem: String,
    sa_private_pem: String,
}

impl Pki {
    fn generate() -> Result<Pki, Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "testenv-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca = Issuer::new(ca_params, ca_key);

        let serving_key = KeyPair::generate()?;
        let mut serving = CertificateParams::new(
            [
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ]
            .map(String::from)
            .to_vec(),
        )?;
        // 10.0.0.1: the `kubernetes` Service's IP in --service-cluster-ip-range.
        for ip in [Ipv4Addr::LOCALHOST, Ipv4Addr::new(10, 0, 0, 1)] {
            serving
                .subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(ip)));
        }
        serving
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        serving.use_authority_key_identifier_extension = true;
        let serving_cert = serving.signed_by(&serving_key, &ca)?;

        let admin_key = KeyPair::generate()?;
        let mut admin = CertificateParams::new(Vec::<String>::new())?;
        admin
            .distinguished_name
            .push(DnType::CommonName, "testenv-admin");
        admin
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        admin.use_authority_key_identifier_extension = true;
        let admin_cert = admin.signed_by(&admin_key, &ca)?;

        let sa_key = KeyPair::generate()?;
        Ok(Pki {
            ca_pem: ca_cert.pem(),
            serving_cert_pem: serving_cert.pem(),
            serving_key_pem: serving_key.serialize_pem(),
            admin_cert_pem: admin_cert.pem(),
            admin_key_pem: admin_key.serialize_pem(),
            sa_public_pem: sa_key.public_key_pem(),
            sa_private_pem: sa_key.serialize_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_dns_labels() {
        for prefix in ["e2e", "", "--", "Password_Stage.Test", &"x".repeat(100)] {
            let ns = unique_namespace(prefix);
            assert!(ns.len() <= 63, "{ns}");
            assert!(
                ns.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{ns}"
            );
            assert!(ns.starts_with(|c: char| c.is_ascii_alphanumeric()), "{ns}");
            assert!(ns.ends_with(|c: char| c.is_ascii_alphanumeric()), "{ns}");
        }
        assert!(unique_namespace("e2e").starts_with("e2e-"));
        assert_ne!(unique_namespace("a"), unique_namespace("a"));
    }

    #[test]
    fn pinned_version_is_read_from_go_mod() {
        assert!(
            pinned_kubernetes_version().starts_with("v1."),
            "{}",
            pinned_kubernetes_version()
        );
    }

    #[test]
    fn kubeconfig_without_credentials() {
        let y = kubeconfig_yaml("https://127.0.0.1:1", "CA", "none", "");
        assert!(y.ends_with("users:\n- name: none\n  user: {}\n"), "{y}");
    }
}
