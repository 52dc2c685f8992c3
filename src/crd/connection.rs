//! `AuthentikConnection` (namespaced) and `ClusterAuthentikConnection` (cluster-scoped): which
//! authentik a stage lives in, and how to reach it. Stages pick one with `connectionRef`;
//! without it the operator-wide default from the flags applies.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A key of a Secret or ConfigMap.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    /// Name of the Secret or ConfigMap.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside it.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
    /// Namespace of the Secret or ConfigMap (ClusterAuthentikConnection only): the operator's
    /// own namespace (its --cluster-secret-namespace), which is also the default; any other
    /// is refused. A namespaced connection always reads from its own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Extra CA certificates (PEM) that sign authentik's server certificate.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.secretRef) != has(self.configMapRef)").message("set exactly one of secretRef or configMapRef"))]
pub struct CaBundle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<KeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<KeyRef>,
}

/// How to reach one authentik. Shared by both connection kinds.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSettings {
    /// authentik's base URL, with or without a trailing `/api/v3`.
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub url: String,
    /// The Secret key that holds the API token. Re-read whenever the Secret changes.
    pub token_secret_ref: KeyRef,
    /// Extra CA certificates to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundle>,
    /// Skip verification of authentik's certificate. Never in production.
    #[serde(default, rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: bool,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    /// authentik's version (`version_current`) at the last check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: authentik answered an authenticated request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// An authentik instance for stages in this namespace.
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[kube(
    group = "authentik-operator.io",
    version = "v1alpha1",
    kind = "AuthentikConnection",
    doc = "How to reach an authentik instance, for stages in the same namespace.",
    namespaced,
    status = "ConnectionStatus",
    shortname = "akconn",
    category = "authentik",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.version"}"#,
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AuthentikConnectionSpec {
    #[serde(flatten)]
    pub settings: ConnectionSettings,
}

/// An authentik instance for stages in any (or some) namespaces.
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[kube(
    group = "authentik-operator.io",
    version = "v1alpha1",
    kind = "ClusterAuthentikConnection",
    doc = "How to reach an authentik instance, for stages in any of the allowed namespaces.",
    status = "ConnectionStatus",
    shortname = "clusterakconn",
    category = "authentik",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.version"}"#,
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAuthentikConnectionSpec {
    #[serde(flatten)]
    pub settings: ConnectionSettings,
    /// Namespaces whose stages may use this connection; empty or absent: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_namespaces: Vec<String>,
}

/// Which connection a stage uses.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    #[default]
    AuthentikConnection,
    ClusterAuthentikConnection,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRef {
    /// `AuthentikConnection` (default, same namespace) or `ClusterAuthentikConnection`.
    #[serde(default)]
    pub kind: ConnectionKind,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}
