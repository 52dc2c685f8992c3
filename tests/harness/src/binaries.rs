//! Locating the control-plane binaries, or building them with `tests/controlplane/build.sh`.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, io_err};

/// The build script, found relative to this crate.
const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../controlplane/build.sh");
const GO_MOD: &str = include_str!("../../controlplane/go.mod");
const TOOLS: [&str; 3] = ["kube-apiserver", "etcd", "kubectl"];
const NODE_TOOLS: [&str; 3] = ["kubelet", "kube-controller-manager", "kube-scheduler"];

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
    run_build_script(&[])
}

/// Like [`ensure_binaries`], with the node tier's `kubelet`, `kube-controller-manager` and
/// `kube-scheduler` too (`build.sh --node`).
pub fn ensure_node_binaries() -> Result<PathBuf, Error> {
    let dir = match std::env::var_os("TESTENV_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => check_binaries(Path::new(&dir))?,
        None => run_build_script(&["--node"])?,
    };
    let missing: Vec<_> = NODE_TOOLS
        .iter()
        .filter(|t| !dir.join(t).is_file())
        .collect();
    if missing.is_empty() {
        Ok(dir)
    } else {
        Err(Error::Binaries(format!(
            "{missing:?} missing in {}",
            dir.display()
        )))
    }
}

fn run_build_script(args: &[&str]) -> Result<PathBuf, Error> {
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
        .args(args)
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

/// `dir` if it holds all of [`TOOLS`], else [`Error::Binaries`] naming the missing ones.
pub(crate) fn check_binaries(dir: &Path) -> Result<PathBuf, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_version_is_read_from_go_mod() {
        assert!(
            pinned_kubernetes_version().starts_with("v1."),
            "{}",
            pinned_kubernetes_version()
        );
    }
}
