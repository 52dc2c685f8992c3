//! [`ControlPlane`]: starting and stopping one, its credentials, and kubectl helpers.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::binaries::{check_binaries, ensure_binaries};
use crate::error::{Error, io_err};
use crate::kubeconfig::{admin_user_fields, kubeconfig_yaml, kubectl_command};
use crate::launch::{Ports, free_ports, launch};
use crate::pki::Pki;
use crate::process::{
    Resources, create_private_dir, remove_stale_dirs, spawn_watcher, write_private,
};

/// Start-up deadline unless `TESTENV_START_TIMEOUT` (seconds) or [`Options::start_timeout`].
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);

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
    /// Ready for a [`Node`](crate::Node): the `ServiceAccount` admission plugin on (the
    /// node's controller manager creates the ServiceAccounts it needs) and the admin
    /// certificate presented to the kubelet.
    pub for_node: bool,
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
    pids: Mutex<Vec<(&'static str, u32)>>,
    started_in: Duration,
    for_node: bool,
    // What a restart of the apiserver needs (`restart.rs`).
    pub(crate) ports: Ports,
    pub(crate) options: Options,
    pub(crate) start_timeout: Duration,
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
        pki.write_to(&dir.join("pki"))?;

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
            pids: Mutex::new(pids),
            started_in: began.elapsed(),
            for_node: options.for_node,
            ports,
            options,
            start_timeout: timeout,
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

    /// `(name, pid)` of the processes it runs: `etcd`, `kube-apiserver` (a restarted
    /// apiserver's new pid).
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.pids.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_pids(&self, pids: Vec<(&'static str, u32)>) {
        *self.pids.lock().unwrap_or_else(|e| e.into_inner()) = pids;
    }

    pub(crate) fn resources(&self) -> std::sync::MutexGuard<'_, Resources> {
        self.res.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether it was started with [`Options::for_node`].
    pub fn for_node(&self) -> bool {
        self.for_node
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

    pub(crate) fn shutdown(&self) {
        let mut res = self.res.lock().unwrap_or_else(|e| e.into_inner());
        res.release();
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.shutdown();
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
}
