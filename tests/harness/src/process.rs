//! Processes and cleanup: spawning tied to this process (`PR_SET_PDEATHSIG` from one
//! long-lived thread), the detached cleanup watcher, the private temporary directory and the
//! removal of directories left behind by dead processes.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};

use crate::error::{Error, io_err};

/// Name prefix of the temporary directories (under [`std::env::temp_dir`]).
const DIR_PREFIX: &str = "testenv-";

/// A started etcd or kube-apiserver.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
}

/// What has to be undone; `release` is idempotent.
pub(crate) struct Resources {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) procs: Vec<Proc>,
    pub(crate) watcher: Option<Child>,
    pub(crate) extra_files: Vec<PathBuf>,
}

impl Resources {
    /// Kills the started processes, newest (kube-apiserver) first, and reaps them.
    pub(crate) fn kill_processes(&mut self) {
        while let Some(mut p) = self.procs.pop() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }

    pub(crate) fn release(&mut self) {
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
pub fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
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
pub(crate) fn spawn_watcher(dir: &Path, extra: &[PathBuf]) -> io::Result<Child> {
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

pub(crate) fn pid_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe {
        libc::kill(pid, 0) == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
}

/// Removes `testenv-*` directories left by processes that died without cleaning up.
pub(crate) fn remove_stale_dirs() {
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

/// A fresh `testenv-<pid>-<random>` directory (mode 0700) with an `owner` file holding our pid.
pub(crate) fn create_private_dir() -> Result<PathBuf, Error> {
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

pub(crate) fn make_private_dir(dir: &Path) -> Result<(), Error> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(io_err(format!("creating {}", dir.display())))
}

/// Writes `content` to `path` (created with mode 0600, or truncated).
pub(crate) fn write_private(path: &Path, content: &str) -> Result<(), Error> {
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

/// The last `lines` lines of the file at `path` (empty when unreadable).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
