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
//! Only etcd and kube-apiserver run (unless a [`Node`] is started next to them, see below).
//! There is **no kube-controller-manager, scheduler or kubelet**, so:
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
//! # A node: `Node` and `Cluster`
//!
//! [`Node::start`] adds what runs Pods — containerd, a kubelet, kube-controller-manager and
//! kube-scheduler, a bridge for the pod network — to a control plane started with
//! [`Options::for_node`]; [`Cluster`] is the two together and [`shared_cluster`] one per test
//! binary. It needs root and Debian's `containerd runc umoci busybox-static
//! containernetworking-plugins iptables` (`tests/run.sh` installs them), and
//! `tests/controlplane/build.sh --node` builds the three Kubernetes binaries. One node tier
//! runs on a machine at a time (a second waits); it changes the machine (cgroups, mounts, a
//! bridge, a NAT rule, sysctls, a few host folders) and puts every change back on stop, on
//! drop, from a watcher when the process dies, or at the next start.
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
//! * the [`shared`](shared()) control plane, which lives in a `static` and is never dropped, is
//!   stopped by an `atexit` handler when the test binary exits normally (all tests passed or
//!   not).
//!
//! # Modules
//!
//! * `control_plane`: [`ControlPlane`] (start, stop, credentials, kubectl helpers), [`Options`]
//!   and [`unique_namespace`];
//! * `shared`: the per-process control plane ([`shared()`]) and its `atexit` handler;
//! * `launch`: free ports, the etcd and kube-apiserver command lines, readiness;
//! * `restart`: [`ControlPlane::restart_apiserver`] (same port and etcd: the data stays) and
//!   [`ControlPlane::compact_etcd`], faults for robustness tests;
//! * `process`: spawning tied to this process, the cleanup watcher, private and stale
//!   directories;
//! * `binaries`: [`ensure_binaries`] (`$TESTENV_BIN_DIR` or `tests/controlplane/build.sh`,
//!   under a lock) and [`pinned_kubernetes_version`];
//! * `pki`: the CA and certificates, shared with [`tls`] ([`LoopbackTls`]);
//! * `kubeconfig`: kubeconfig texts and kubectl command lines;
//! * `error`: [`Error`].

mod binaries;
mod control_plane;
mod error;
mod kubeconfig;
mod launch;
mod node;
mod node_host;
mod pki;
mod process;
mod restart;
mod shared;
pub mod tls;

pub use binaries::{ensure_binaries, ensure_node_binaries, pinned_kubernetes_version};
pub use control_plane::{ControlPlane, Options, unique_namespace};
pub use error::Error;
pub use node::{NODE_NAME, Node};
pub use process::spawn_tied;
pub use restart::Stop;
pub use shared::{Cluster, shared, shared_cluster};
pub use tls::LoopbackTls;
