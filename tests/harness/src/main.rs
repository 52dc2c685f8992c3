//! `testenv`: the test control plane (etcd + kube-apiserver on loopback) for shells.
//!
//! * `testenv up [--dir DIR] [--exit-with-parent]` starts it, writes the admin kubeconfig
//!   (to `DIR/kubeconfig` when `--dir` is given, else into its private temporary directory),
//!   prints one line `KUBECONFIG=<path>` on stdout (and nothing else there; progress goes to
//!   stderr), then runs until SIGINT, SIGTERM or SIGHUP, stops everything and exits 0. stdin is
//!   not watched (background jobs of scripts have it closed). With `--exit-with-parent` it also
//!   stops when its parent process dies. If it is killed with SIGKILL, the kernel kills etcd
//!   and kube-apiserver with it and a detached watcher removes the files within a second.
//! * `testenv bin-dir` prints the folder with `kube-apiserver`, `etcd` and `kubectl`, building
//!   them first when needed.
//!
//! Typical script use:
//!
//! ```sh
//! testenv up --dir "$tmp" > "$tmp/up.out" & up=$!
//! until grep -q '^KUBECONFIG=' "$tmp/up.out"; do kill -0 $up || exit 1; sleep 0.2; done
//! export KUBECONFIG="$tmp/kubeconfig"
//! ...
//! kill $up; wait $up
//! ```

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use clap::{Parser, Subcommand};
use testenv::{Cluster, ControlPlane, Options};

#[derive(Parser)]
#[command(
    name = "testenv",
    about = "A real etcd + kube-apiserver on loopback, for tests and local runs"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the control plane, print `KUBECONFIG=<path>`, run until SIGINT/SIGTERM/SIGHUP.
    Up {
        /// Write the kubeconfig to DIR/kubeconfig (DIR is created; the file is removed on stop).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Also stop when the parent process exits.
        #[arg(long)]
        exit_with_parent: bool,
        /// Also start a node (containerd, kubelet, controller manager, scheduler) that runs
        /// Pods; needs root and the Debian packages tests/run.sh installs.
        #[arg(long)]
        node: bool,
    },
    /// Print the folder holding kube-apiserver, etcd and kubectl (building them if needed).
    BinDir,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::BinDir => match testenv::ensure_binaries() {
            Ok(dir) => {
                println!("{}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("testenv: {e}");
                ExitCode::FAILURE
            }
        },
        Cmd::Up {
            dir,
            exit_with_parent,
            node,
        } => up(dir, exit_with_parent, node),
    }
}

fn up(dir: Option<PathBuf>, exit_with_parent: bool, node: bool) -> ExitCode {
    // Block the stop signals in every thread (threads inherit the mask; children get a clean
    // one from std) and receive them with sigwait on a dedicated thread.
    let signals = block_stop_signals();
    if exit_with_parent {
        // SAFETY: plain prctl/getppid calls.
        unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            );
            if libc::getppid() == 1 {
                return ExitCode::FAILURE;
            }
        }
    }
    let started = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<i32>();
    {
        let started = started.clone();
        std::thread::spawn(move || {
            let sig = wait_for_signal(&signals);
            if !started.load(Ordering::SeqCst) {
                // Still starting: exit at once. The children die with us (PDEATHSIG) and the
                // watcher removes the files.
                eprintln!("testenv: interrupted during start-up");
                std::process::exit(128 + sig);
            }
            let _ = tx.send(sig);
        });
    }

    let options = Options {
        kubeconfig_path: dir.map(|d| d.join("kubeconfig")),
        ..Options::default()
    };
    let (cluster, cp_owned) = if node {
        match Cluster::start_with(options) {
            Ok(c) => (Some(c), None),
            Err(e) => {
                eprintln!("testenv: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match ControlPlane::start_with(options) {
            Ok(cp) => (None, Some(cp)),
            Err(e) => {
                eprintln!("testenv: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    started.store(true, Ordering::SeqCst);
    let cp = match (&cluster, &cp_owned) {
        (Some(c), _) => c.control_plane(),
        (None, Some(cp)) => cp,
        (None, None) => unreachable!(),
    };
    eprintln!(
        "testenv: kube-apiserver {} ready at {} in {:.1}s (etcd {}, files in {})",
        testenv::pinned_kubernetes_version(),
        cp.server_url(),
        cp.startup_duration().as_secs_f64(),
        cp.etcd_url(),
        cp.dir().display()
    );
    if let Some(c) = &cluster {
        eprintln!(
            "testenv: node {} Ready in {:.1}s; pods reach this host at {} (files in {})",
            testenv::NODE_NAME,
            c.node().startup_duration().as_secs_f64(),
            c.node().host_ip(),
            c.node().dir().display()
        );
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "KUBECONFIG={}", cp.kubeconfig().display());
    let _ = stdout.flush();
    drop(stdout);

    let sig = rx.recv().unwrap_or(libc::SIGTERM);
    eprintln!("testenv: signal {sig}, stopping");
    match cluster {
        Some(c) => {
            if let Err(e) = c.stop() {
                eprintln!("testenv: {e}");
                return ExitCode::FAILURE;
            }
        }
        None => {
            if let Some(cp) = cp_owned {
                cp.stop();
            }
        }
    }
    ExitCode::SUCCESS
}

fn block_stop_signals() -> libc::sigset_t {
    // SAFETY: initialising a sigset_t and changing this thread's mask.
    unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
        libc::sigemptyset(set.as_mut_ptr());
        let mut set = set.assume_init();
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_signal(set: &libc::sigset_t) -> i32 {
    loop {
        let mut sig = 0;
        // SAFETY: `set` is initialised; sigwait writes the signal number.
        if unsafe { libc::sigwait(set, &mut sig) } == 0 {
            return sig;
        }
    }
}
