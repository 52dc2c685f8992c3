//! The control plane shared by all tests of one test binary, stopped by an `atexit` handler.

use std::sync::OnceLock;

use crate::control_plane::ControlPlane;
use crate::node::Node;

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

/// A control plane started for a node ([`Options::for_node`](crate::Options::for_node)) and
/// its [`Node`]. Dropping it stops the node first.
#[derive(Debug)]
pub struct Cluster {
    // Field order is drop order: the node goes before the apiserver it talks to.
    node: Node,
    control_plane: ControlPlane,
}

impl Cluster {
    /// Starts a control plane, then a node tier next to it.
    pub fn start() -> Result<Cluster, crate::Error> {
        Self::start_with(crate::Options::default())
    }

    /// [`Cluster::start`] with control-plane [`Options`](crate::Options) (`for_node` is set).
    pub fn start_with(options: crate::Options) -> Result<Cluster, crate::Error> {
        let control_plane = ControlPlane::start_with(crate::Options {
            for_node: true,
            ..options
        })?;
        let node = Node::start(&control_plane)?;
        Ok(Cluster {
            node,
            control_plane,
        })
    }

    pub fn control_plane(&self) -> &ControlPlane {
        &self.control_plane
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Stops the node (reporting what it left behind), then the control plane.
    pub fn stop(&self) -> Result<(), crate::Error> {
        let result = self.node.stop();
        self.control_plane.shutdown();
        result
    }
}

/// The [`Cluster`] shared by every test of this test binary: started on first use, stopped
/// when the process exits (an `atexit` handler; killed: the node's watcher and PDEATHSIG).
///
/// Panics (in every caller) when it cannot start.
pub fn shared_cluster() -> &'static Cluster {
    static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
    extern "C" fn stop_shared() {
        let _ = std::panic::catch_unwind(|| {
            if let Some(Ok(c)) = SHARED.get()
                && let Err(e) = c.stop()
            {
                eprintln!("testenv: {e}");
            }
        });
    }
    let started = SHARED.get_or_init(|| {
        let result = Cluster::start().map_err(|e| e.to_string());
        if result.is_ok() {
            // SAFETY: registering a plain function without captured state.
            unsafe { libc::atexit(stop_shared) };
        }
        result
    });
    match started {
        Ok(c) => c,
        Err(e) => panic!("the shared test cluster did not start: {e}"),
    }
}
