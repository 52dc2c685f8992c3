//! The `testenv` binary as scripts use it: `up` prints `KUBECONFIG=…`, serves until a signal,
//! and leaves nothing behind whether it is stopped (SIGTERM) or killed (SIGKILL).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Up {
    child: Child,
    kubeconfig: PathBuf,
    etcd: u32,
    apiserver: u32,
    dir: PathBuf,
}

fn up(out_dir: &Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_testenv"))
        .args(["up", "--dir"])
        .arg(out_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let kubeconfig = PathBuf::from(
        line.trim()
            .strip_prefix("KUBECONFIG=")
            .unwrap_or_else(|| panic!("{line:?}")),
    );
    assert_eq!(kubeconfig, out_dir.join("kubeconfig"));
    let children = common::children_of(child.id());
    let pid_of = |name: &str| {
        children
            .iter()
            .find(|(_, c)| c == name)
            .unwrap_or_else(|| panic!("{children:?}"))
            .0
    };
    let etcd = pid_of("etcd");
    let apiserver = pid_of("kube-apiserver");
    let dir = common::dir_of_etcd(etcd);
    Up {
        child,
        kubeconfig,
        etcd,
        apiserver,
        dir,
    }
}

fn kubectl_readyz(kubeconfig: &Path) -> String {
    let bin = testenv::ensure_binaries().unwrap();
    let out = Command::new(bin.join("kubectl"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(["get", "--raw", "/readyz"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child by pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

#[test]
fn up_serves_until_sigterm_then_cleans_up() {
    let out_dir = std::env::temp_dir().join(testenv::unique_namespace("testenv-cli-term"));
    let mut up = up(&out_dir);
    assert_eq!(kubectl_readyz(&up.kubeconfig), "ok");
    assert!(up.dir.join("pki").is_dir());

    signal(&up.child, libc::SIGTERM);
    let status = up.child.wait().unwrap();
    assert!(status.success(), "{status}");

    assert!(!common::alive(up.etcd) && !common::alive(up.apiserver));
    assert!(!up.dir.exists(), "{} still exists", up.dir.display());
    assert!(!up.kubeconfig.exists());
    assert_eq!(common::processes_mentioning(&up.dir), Vec::<u32>::new());
    std::fs::remove_dir(&out_dir).unwrap();
}

#[test]
fn killed_up_leaves_nothing_behind() {
    let out_dir = std::env::temp_dir().join(testenv::unique_namespace("testenv-cli-kill"));
    let mut up = up(&out_dir);
    assert_eq!(kubectl_readyz(&up.kubeconfig), "ok");

    signal(&up.child, libc::SIGKILL);
    up.child.wait().unwrap();

    // The kernel kills the children (PDEATHSIG); the watcher removes the files within ~1 s.
    let gone = common::eventually(Duration::from_secs(10), || {
        !common::alive(up.etcd)
            && !common::alive(up.apiserver)
            && !up.dir.exists()
            && !up.kubeconfig.exists()
            && common::processes_mentioning(&up.dir).is_empty()
    });
    assert!(
        gone,
        "left behind: etcd alive {}, apiserver alive {}, dir {}, kubeconfig {}, processes {:?}",
        common::alive(up.etcd),
        common::alive(up.apiserver),
        up.dir.exists(),
        up.kubeconfig.exists(),
        common::processes_mentioning(&up.dir)
    );
    std::fs::remove_dir(&out_dir).unwrap();
}
