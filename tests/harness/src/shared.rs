//! The control plane shared by all tests of one test binary, stopped by an `atexit` handler.

use std::sync::OnceLock;

use crate::control_plane::ControlPlane;

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
