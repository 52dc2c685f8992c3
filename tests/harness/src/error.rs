//! The crate's error type.

use std::io;
use std::path::PathBuf;

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
    /// The node tier could not start, or left something behind when stopped.
    #[error("node tier: {0}")]
    Node(String),
    /// A kubectl command run by a helper failed.
    #[error("kubectl {args}: {message}")]
    Kubectl { args: String, message: String },
}

/// For `map_err`: wraps an [`io::Error`] into [`Error::Io`] with `context`.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
