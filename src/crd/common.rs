//! Spec fields every stage kind has: its authentik name and the three policies.

use super::connection::ConnectionRef;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens in authentik when the resource is deleted.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Delete the stage in authentik.
    #[default]
    Delete,
    /// Leave the stage in authentik.
    Orphan,
}

/// What to do when a stage with this name already exists and this resource has no pk yet.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdoptionPolicy {
    /// Refuse, say so in a condition, touch nothing.
    #[default]
    Never,
    /// Adopt only if the existing stage already matches the spec.
    IfMatch,
    /// Adopt and correct it.
    Always,
}

/// Whether the operator writes to authentik at all.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManagementPolicy {
    /// Create, correct and delete the stage.
    #[default]
    Manage,
    /// Find the stage, report drift in status, never write.
    Observe,
}

// Fields common to all stage kinds, flattened into each spec.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StageCommon {
    /// The stage's name in authentik (unique across all stage kinds there). Defaults to
    /// `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    #[x_kube(validation = Rule::new("self == self.trim()").message("must not start or end with whitespace: authentik trims names, so the spec could never match"))]
    pub name: Option<String>,
    /// `Delete` (default) or `Orphan`.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Never` (default), `IfMatch` or `Always`.
    #[serde(default)]
    pub adoption_policy: AdoptionPolicy,
    /// `Manage` (default) or `Observe`.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// The authentik this stage lives in; without it, the operator's default (its flags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<ConnectionRef>,
}

/// Spec keys that belong to the operator, not to authentik's body.
pub const COMMON_KEYS: [&str; 5] = [
    "name",
    "deletionPolicy",
    "adoptionPolicy",
    "managementPolicy",
    "connectionRef",
];
