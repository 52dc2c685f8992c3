//! The status every kind reports (stages, flows, bindings).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One field whose value in authentik differs from the spec.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DriftEntry {
    /// The spec field (camelCase).
    pub field: String,
    /// What the spec asks for, as JSON.
    pub desired: String,
    /// What authentik has, as JSON.
    pub actual: String,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StageStatus {
    /// authentik's primary key of the stage: the authority for updates and deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pk: Option<String>,
    /// The stage's name in authentik. Also written just before a create, so that a retry
    /// after a crash recognises the stage it created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The authentik the pk belongs to (`default`, `AuthentikConnection/<ns>/<name>` or
    /// `ClusterAuthentikConnection/<name>`). A pk from another connection is not trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The pk was found in Observe mode and never taken over: switching to Manage goes
    /// through the adoption policy, and deleting the resource never deletes the stage.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub observed_only: bool,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (authentik matches the spec) and `Synced` (the last attempt to talk to
    /// authentik succeeded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// When authentik was last brought in line with the spec (a write, or a check that found
    /// it matching after a change). Not bumped by checks that change nothing, so the status
    /// does not churn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// Fields that differ from the spec: shown in Observe mode, while adoption is refused, and
    /// while a correction is failing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
    /// Fields the spec sets that the connected authentik does not know (an older version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported_fields: Vec<String>,
    /// What each reference resolved to (spec field → authentik pk), so a user can see it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved_references: BTreeMap<String, String>,
    /// The slugs of the flows a stage is bound to in authentik, by any binding (ours or
    /// not): deleting the stage removes it from each of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bound_to: Vec<String>,
    /// For each write-only field (its Secret reference's spec key), a hash of the value last
    /// sent to authentik: never the value. A Secret whose value hashes differently is sent
    /// again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sent_secrets: BTreeMap<String, String>,
}

impl StageStatus {
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// The pk, if it can be trusted for `connection` and, unless `observing`, was not merely
    /// observed.
    pub fn trusted_pk(&self, connection: &str, observing: bool) -> Option<&str> {
        let same_authentik = self.connection.as_deref().is_none_or(|c| c == connection);
        (same_authentik && (observing || !self.observed_only))
            .then_some(self.pk.as_deref())
            .flatten()
    }

    pub fn is_ready(&self) -> bool {
        self.condition("Ready").is_some_and(|c| c.status == "True")
    }
}
