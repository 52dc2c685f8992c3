//! The one error type of the operator. Every failure maps to a stable condition reason, an
//! event reason and a metric label, and says whether retrying can help.

use std::time::Duration;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// authentik could not be reached (connection refused, DNS, TLS, timeout).
    #[error("authentik is unreachable: {0}")]
    Unreachable(String),

    /// authentik refused the token or the permission (every auth failure is a 403 there).
    #[error(
        "authentik refused the request (HTTP 403): {0}; check the API token and its permissions"
    )]
    Forbidden(String),

    /// authentik rejected the content of a write (HTTP 400): the spec needs to change.
    #[error("authentik rejected the stage: {0}")]
    Rejected(String),

    /// authentik refused a write because another object holds the name (HTTP 400 with a
    /// uniqueness error on `name`): told apart from [`Error::Rejected`] where authentik's
    /// answer is parsed, so callers match the variant, not the text.
    #[error("authentik rejected the stage: {0}")]
    NameTaken(String),

    /// A server-side failure (5xx, 429, or the empty-bodied 405 older authentik gives for a
    /// failed write). Retrying may help.
    #[error("authentik answered HTTP {status}: {message}")]
    Server {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },

    /// authentik answered 404 for the object.
    #[error("not found in authentik: {0}")]
    NotFound(String),

    /// Any other unexpected answer (e.g. 404 on a list, a body that is not what we expect).
    #[error("unexpected answer from authentik: {0}")]
    Protocol(String),

    /// Another resource already claims this authentik stage name.
    #[error("{0}")]
    NameConflict(String),

    /// A stage with this name exists in authentik and the adoption policy forbids taking it.
    #[error("{0}")]
    AlreadyExists(String),

    /// adoptionPolicy IfMatch and the existing stage differs from the spec.
    #[error("{0}")]
    AdoptionMismatch(String),

    /// The change would alter what a live object does (a flow's designation) and the
    /// resource does not allow it.
    #[error("{0}")]
    ChangeRefused(String),

    /// A referenced custom resource does not exist yet or has no pk yet.
    #[error("{0}")]
    ReferenceNotReady(String),

    /// A referenced authentik object (by name, slug or pk) was not found.
    #[error("{0}")]
    ReferenceNotFound(String),

    /// A reference that can never resolve as written (wrong kind, ambiguous).
    #[error("{0}")]
    InvalidReference(String),

    /// The connection (authentik instance) the stage uses is missing or not usable.
    #[error("{0}")]
    ConnectionNotReady(String),

    /// The spec is invalid in a way the CRD schema could not catch.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),

    /// A Secret a write-only field comes from (or its key) does not exist.
    #[error("{0}")]
    SecretNotFound(String),

    /// The operator may not read the Secret a write-only field comes from.
    #[error("{0}")]
    SecretForbidden(String),

    /// The connected authentik has no endpoint for this kind (an older release).
    #[error("{0}")]
    UnsupportedKind(String),

    /// Deletion waits because other resources still reference this one.
    #[error("{0}")]
    DeleteBlocked(String),

    /// The Kubernetes API failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    /// The resource changed since the version this reconcile read (a write was refused with
    /// 409, or the informer cache lags behind our own writes). Never shown in a status: the
    /// reconcile starts again from the object read fresh from the API server.
    #[error("the resource changed while it was being reconciled")]
    StaleView,

    /// Adding or removing the finalizer failed.
    #[error("finalizer error: {0}")]
    Finalizer(String),

    /// Bad configuration of the operator itself.
    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    /// Stable CamelCase reason for the `Synced` condition and for Warning events.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Unreachable(_) => "AuthentikUnreachable",
            Error::Forbidden(_) => "AuthentikForbidden",
            Error::Rejected(_) | Error::NameTaken(_) => "AuthentikRejected",
            Error::Server { .. } => "AuthentikServerError",
            Error::Protocol(_) => "AuthentikProtocolError",
            Error::NotFound(_) => "NotFound",
            Error::NameConflict(_) => "NameConflict",
            Error::AlreadyExists(_) => "AlreadyExists",
            Error::AdoptionMismatch(_) => "AdoptionMismatch",
            Error::ChangeRefused(_) => "ChangeRefused",
            Error::ReferenceNotReady(_) => "ReferenceNotReady",
            Error::ReferenceNotFound(_) => "ReferenceNotFound",
            Error::InvalidReference(_) => "InvalidReference",
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::ConnectionNotReady(_) => "ConnectionNotReady",
            Error::DeleteBlocked(_) => "DeleteBlocked",
            Error::SecretNotFound(_) => "SecretNotFound",
            Error::SecretForbidden(_) => "SecretForbidden",
            Error::UnsupportedKind(_) => "UnsupportedKind",
            Error::Kube(_) => "KubernetesError",
            Error::StaleView => "StaleView",
            Error::Finalizer(_) => "FinalizerError",
            Error::Config(_) => "ConfigurationError",
        }
    }

    /// Metric label: the same stable reason, snake_cased would only add a second vocabulary.
    pub fn metric_label(&self) -> &'static str {
        self.reason()
    }

    /// Whether the error can go away without the spec changing. Errors that cannot are not
    /// retried on a timer (no hot loop): the next spec change or resync tries again. Every
    /// variant is listed, so a new one is classified on purpose, not by a default.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Rejected(_)
            | Error::NameTaken(_)
            | Error::InvalidReference(_)
            | Error::ChangeRefused(_)
            | Error::UnsupportedKind(_)
            | Error::InvalidSpec(_) => false,
            Error::Unreachable(_)
            | Error::Forbidden(_)
            | Error::Server { .. }
            | Error::NotFound(_)
            | Error::Protocol(_)
            | Error::NameConflict(_)
            | Error::AlreadyExists(_)
            | Error::AdoptionMismatch(_)
            | Error::ReferenceNotReady(_)
            | Error::ReferenceNotFound(_)
            | Error::ConnectionNotReady(_)
            | Error::DeleteBlocked(_)
            | Error::SecretNotFound(_)
            | Error::SecretForbidden(_)
            | Error::Kube(_)
            | Error::StaleView
            | Error::Finalizer(_)
            | Error::Config(_) => true,
        }
    }

    /// Whether the error says authentik cannot serve us right now (unreachable, 5xx, 429,
    /// our token refused), rather than answering about the request itself.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            Error::Unreachable(_) | Error::Server { .. } | Error::Forbidden(_)
        )
    }

    /// Whether a `Synced` reason is one of [`Error::is_outage`]'s: the resources to retry at
    /// once when their authentik answers again.
    pub fn is_outage_reason(reason: &str) -> bool {
        matches!(
            reason,
            "AuthentikUnreachable" | "AuthentikServerError" | "AuthentikForbidden"
        )
    }

    /// Whether the same request may succeed if sent again (the client's own retries).
    pub fn is_retryable_request(&self) -> bool {
        matches!(self, Error::Unreachable(_) | Error::Server { .. })
    }

    /// A server-provided delay before the next attempt, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The resources retried when authentik comes back are found by their `Synced` reason:
    /// the reasons and the variants must name the same failures.
    #[test]
    fn outage_reasons_are_the_reasons_of_outage_errors() {
        let errors = [
            Error::Unreachable("x".into()),
            Error::Forbidden("x".into()),
            Error::Server {
                status: 503,
                message: "x".into(),
                retry_after: None,
            },
            Error::Rejected("x".into()),
            Error::NameTaken("x".into()),
            Error::NotFound("x".into()),
            Error::Protocol("x".into()),
            Error::NameConflict("x".into()),
            Error::AlreadyExists("x".into()),
            Error::AdoptionMismatch("x".into()),
            Error::ChangeRefused("x".into()),
            Error::ReferenceNotReady("x".into()),
            Error::ReferenceNotFound("x".into()),
            Error::InvalidReference("x".into()),
            Error::ConnectionNotReady("x".into()),
            Error::InvalidSpec("x".into()),
            Error::DeleteBlocked("x".into()),
            Error::StaleView,
            Error::Finalizer("x".into()),
            Error::Config("x".into()),
        ];
        for e in &errors {
            assert_eq!(Error::is_outage_reason(e.reason()), e.is_outage(), "{e:?}");
        }
    }

    /// What is retried on a backoff and what waits for a change to the resource.
    #[test]
    fn transience_behaviour_table() {
        let s = || "x".to_string();
        let table = [
            // Waits for a spec change: retrying cannot help.
            (Error::Rejected(s()), false),
            (Error::NameTaken(s()), false),
            (Error::InvalidReference(s()), false),
            (Error::InvalidSpec(s()), false),
            (Error::ChangeRefused(s()), false),
            // Waits for an upgrade of authentik; the drift sweep notices it.
            (Error::UnsupportedKind(s()), false),
            // Passes on its own: authentik, the cluster or another resource may change.
            (Error::Unreachable(s()), true),
            (Error::Forbidden(s()), true),
            (
                Error::Server {
                    status: 503,
                    message: s(),
                    retry_after: None,
                },
                true,
            ),
            (Error::NotFound(s()), true),
            (Error::AlreadyExists(s()), true),
            (Error::AdoptionMismatch(s()), true),
            (Error::NameConflict(s()), true),
            (Error::ReferenceNotReady(s()), true),
            (Error::ReferenceNotFound(s()), true),
            (Error::ConnectionNotReady(s()), true),
            (Error::DeleteBlocked(s()), true),
            (Error::SecretNotFound(s()), true),
            (Error::SecretForbidden(s()), true),
            (Error::StaleView, true),
        ];
        for (e, transient) in table {
            assert_eq!(e.is_transient(), transient, "{e:?}");
        }
    }
}
