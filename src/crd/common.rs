//! Spec fields every kind has (the three policies and the connection), and those every stage
//! kind adds (its authentik name).

use super::connection::ConnectionRef;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens in authentik when the resource is deleted.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Delete the object in authentik.
    #[default]
    Delete,
    /// Leave the object in authentik.
    Orphan,
}

/// What to do when an object with this identity (a stage's name, a flow's slug, a binding's
/// flow, stage and order) already exists and this resource has no pk yet.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdoptionPolicy {
    /// Refuse, say so in a condition, touch nothing.
    #[default]
    Never,
    /// Adopt only if the existing object already matches the spec.
    IfMatch,
    /// Adopt and correct it.
    Always,
}

/// Whether the operator writes to authentik at all.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManagementPolicy {
    /// Create, correct and delete the object.
    #[default]
    Manage,
    /// Find the object, report drift in status, never write.
    Observe,
}

/// How the operator treats the authentik object: fields every kind has, flattened into each
/// spec.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Policies {
    /// `Delete` (default) or `Orphan`.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Never` (default), `IfMatch` or `Always`.
    #[serde(default)]
    pub adoption_policy: AdoptionPolicy,
    /// `Manage` (default) or `Observe`.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// The authentik this object lives in; without it, the operator's default (its flags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<ConnectionRef>,
}

/// A key of a Secret in the resource's own namespace: where a write-only value (an SMTP
/// password, a captcha's private key) comes from.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretKeyRef {
    /// Name of the Secret, in the resource's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside it.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// Fields common to all kinds named in authentik (stages, prompts, policies), flattened into
/// each spec.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StageCommon {
    /// The object's name in authentik (stage names are unique across all stage kinds,
    /// policy names across all policy kinds). Defaults to `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    #[x_kube(validation = Rule::new("self == self.trim()").message("must not start or end with whitespace: authentik trims names, so the spec could never match"))]
    pub name: Option<String>,
    #[serde(flatten)]
    pub policies: Policies,
}

/// Spec keys that belong to the operator, not to authentik's body.
pub const POLICY_KEYS: [&str; 4] = [
    "deletionPolicy",
    "adoptionPolicy",
    "managementPolicy",
    "connectionRef",
];
