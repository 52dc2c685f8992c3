//! Custom resource types: one file per stage kind, shared parts beside them.

pub mod common;
#[allow(clippy::duplicated_attributes)]
pub mod connection;
pub mod duration;
// kube-derive takes one `printcolumn(...)` per column; clippy reads the repeated keys as
// duplicated attributes.
#[allow(clippy::duplicated_attributes)]
pub mod identification;
#[allow(clippy::duplicated_attributes)]
pub mod password;
pub mod refs;
pub mod status;
#[allow(clippy::duplicated_attributes)]
pub mod user_login;

pub use common::{AdoptionPolicy, DeletionPolicy, ManagementPolicy, StageCommon};
pub use connection::{
    AuthentikConnection, ClusterAuthentikConnection, ConnectionKind, ConnectionRef,
};
pub use identification::{IdentificationStage, IdentificationStageSpec};
pub use password::{PasswordStage, PasswordStageSpec};
pub use refs::{FlowRef, SourceRef, StageRef};
pub use status::{DriftEntry, StageStatus};
pub use user_login::{UserLoginStage, UserLoginStageSpec};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD the operator owns, as generated from the Rust types.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        PasswordStage::crd(),
        IdentificationStage::crd(),
        UserLoginStage::crd(),
        AuthentikConnection::crd(),
        ClusterAuthentikConnection::crd(),
    ]
}
