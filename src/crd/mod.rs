//! What every custom resource shares: the [`kind::Kind`] trait, common spec fields, status,
//! references, connections. The kinds themselves live in [`crate::kinds`].

/// Declares a stage kind's spec with what every stage kind shares: the CRD's group and
/// version, its status, category and printer columns. Written once so the kinds cannot drift
/// apart; the kind's own file holds only its fields.
macro_rules! stage_spec {
    (
        kind = $kind:tt, shortname = $short:tt, doc = $doc:tt,
        $(#[$attr:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        #[derive(kube::CustomResource, kube::KubeSchema, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
        #[kube(
            group = "authentik-operator.io",
            version = "v1alpha1",
            kind = $kind,
            doc = $doc,
            namespaced,
            status = "StageStatus",
            shortname = $short,
            category = "authentik",
            derive = "PartialEq",
            printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
            printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
            printcolumn = r#"{"name":"Authentik Name","type":"string","jsonPath":".status.name"}"#,
            printcolumn = r#"{"name":"PK","type":"string","jsonPath":".status.pk"}"#,
            printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
        )]
        $(#[$attr])*
        #[serde(rename_all = "camelCase")]
        pub struct $name { $($body)* }
    };
}
pub(crate) use stage_spec;

pub mod common;
pub mod connection;
pub mod duration;
pub mod kind;
pub mod refs;
pub mod status;

pub use common::{AdoptionPolicy, DeletionPolicy, ManagementPolicy, Policies, StageCommon};
pub use connection::{
    AuthentikConnection, ClusterAuthentikConnection, ConnectionKind, ConnectionRef,
};
pub use refs::{FlowRef, SourceRef, StageRef};
pub use status::{DriftEntry, StageStatus};
