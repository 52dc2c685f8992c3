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

/// The [`kind::Kind`] methods of a kind whose spec flattens `common: StageCommon` (every stage
/// kind, prompts and policies): written once, so a kind file holds only what is its own.
macro_rules! named_kind_methods {
    () => {
        fn policies(&self) -> &$crate::crd::Policies {
            &self.spec.common.policies
        }

        fn spec_key(&self) -> Option<&str> {
            self.spec.common.name.as_deref()
        }

        fn spec_json(&self) -> serde_json::Value {
            serde_json::to_value(&self.spec).unwrap_or_default()
        }

        fn status(&self) -> Option<&$crate::crd::StageStatus> {
            self.status.as_ref()
        }
    };
}
pub(crate) use named_kind_methods;

pub mod common;
pub mod connection;
pub mod duration;
pub mod kind;
pub mod refs;
pub mod status;
pub mod target;

pub use common::{
    AdoptionPolicy, DeletionPolicy, ManagementPolicy, Policies, SecretKeyRef, StageCommon,
};
pub use connection::{
    AuthentikConnection, ClusterAuthentikConnection, ConnectionKind, ConnectionRef,
};
pub use refs::{FlowRef, GroupRef, KindedRef, NameRef, SourceRef, StageRef, TargetRef, UserRef};
pub use status::{DriftEntry, StageStatus};
