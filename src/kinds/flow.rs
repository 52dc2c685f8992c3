//! `Flow`: an authentik flow (`/api/v3/flows/instances/`), identified by its slug.

use crate::crd::kind::{Kind, Lookup};
use crate::crd::{Policies, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The slug pattern authentik enforces (Django's slug validator). A slug's length is not
/// limited here: releases up to 2025.10 refuse more than 50 characters with their own 400
/// (shown in the condition), later ones accept any length.
pub const SLUG_PATTERN: &str = r"^[-a-zA-Z0-9_]+$";

/// What a flow is used for, as authentik names it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Designation {
    Authentication,
    Authorization,
    Invalidation,
    Enrollment,
    Unenrollment,
    Recovery,
    StageConfiguration,
}

/// How the flow's pages are laid out.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    Stacked,
    ContentLeft,
    ContentRight,
    SidebarLeft,
    SidebarRight,
    SidebarLeftFrameBackground,
    SidebarRightFrameBackground,
}

/// What happens when the flow denies access.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeniedAction {
    MessageContinue,
    Message,
    Continue,
}

/// Whether all or any of the bound policies must pass.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PolicyEngineMode {
    All,
    Any,
}

/// Who may start the flow.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Authentication {
    None,
    RequireAuthenticated,
    RequireUnauthenticated,
    RequireSuperuser,
    RequireRedirect,
    RequireOutpost,
    RequireToken,
}

/// The desired state of the flow. Fields left out (other than those authentik requires) are
/// not managed: the operator neither sends them nor reports them as drift.
#[derive(
    kube::CustomResource, kube::KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq,
)]
#[kube(
    group = "authentik-operator.io",
    version = "v1alpha1",
    kind = "Flow",
    doc = "An authentik flow: the sequence of stages a user goes through (log in, enroll, recover). Bind stages to it with FlowStageBinding resources.",
    namespaced,
    status = "StageStatus",
    shortname = "akflow",
    category = "authentik",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Slug","type":"string","jsonPath":".status.name"}"#,
    printcolumn = r#"{"name":"Designation","type":"string","jsonPath":".spec.designation"}"#,
    printcolumn = r#"{"name":"PK","type":"string","jsonPath":".status.pk","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FlowSpec {
    #[serde(flatten)]
    pub policies: Policies,
    /// The flow's slug: its identity in authentik and in its URL. Defaults to
    /// `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), regex(pattern = SLUG_PATTERN))]
    pub slug: Option<String>,
    /// The flow's name, shown in authentik's admin interface.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The title shown on the flow's pages.
    #[schemars(length(min = 1))]
    pub title: String,
    /// What the flow is used for. Changing it on a live flow changes what the flow does: the
    /// operator does that only with the annotation
    /// `authentik-operator.io/allow-guarded-changes: "true"`.
    pub designation: Designation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// What happens when the flow denies access (authentik's default: message_continue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_action: Option<DeniedAction>,
    /// Whether all or any of the flow's policies must pass (authentik's default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<PolicyEngineMode>,
    /// Compatibility with password managers on mobile devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_mode: Option<bool>,
    /// Who may start the flow (authentik's default: none, anyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

impl Kind for Flow {
    const ENDPOINT: &'static str = "flows/instances/";
    const MODEL: &'static str = "authentik_flows.flow";
    const NOUN: &'static str = "flow";
    const KEY: &'static [&'static str] = &["slug"];
    const KEY_SCOPE: &'static str = "flows/instances/";
    const UNIQUENESS: &'static str = "authentik flow slugs are unique";
    const LOOKUP: Lookup = Lookup::Slug {
        pk_filter: "flow_uuid",
    };
    const ORDERING: &'static str = "slug";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const GUARDED: &'static [&'static str] = &["designation"];

    fn describe_key(key: &str) -> String {
        format!("flow with slug {key:?}")
    }

    fn policies(&self) -> &Policies {
        &self.spec.policies
    }

    fn spec_key(&self) -> Option<&str> {
        self.spec.slug.as_deref()
    }

    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }

    fn status(&self) -> Option<&StageStatus> {
        self.status.as_ref()
    }

    /// A slug taken from `metadata.name` must still be one authentik accepts (a resource
    /// name may hold dots).
    fn check_spec(&self) -> Result<(), String> {
        let slug = self.identity();
        let valid = slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if slug.is_empty() || !valid {
            let from = match self.spec.slug {
                Some(_) => "",
                None => " (from metadata.name; set spec.slug)",
            };
            return Err(format!(
                "spec.slug: {slug:?} is not a valid authentik slug (letters, digits, - and _){from}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::kind::desired_body;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn flow(name: &str, spec: serde_json::Value) -> Flow {
        serde_json::from_value(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
            "metadata": {"name": name, "namespace": "ns"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn the_slug_defaults_to_the_resource_name_and_the_body_has_what_the_spec_sets() {
        let f = flow(
            "login",
            json!({"name": "Login", "title": "Welcome", "designation": "authentication", "deletionPolicy": "Orphan"}),
        );
        assert_eq!(
            serde_json::Value::Object(desired_body(&f, &BTreeMap::new())),
            json!({"slug": "login", "name": "Login", "title": "Welcome", "designation": "authentication"})
        );
        let own = flow(
            "x",
            json!({"slug": "lab-login", "name": "L", "title": "T", "designation": "recovery", "layout": "sidebar_left"}),
        );
        let body = desired_body(&own, &BTreeMap::new());
        assert_eq!(body["slug"], "lab-login");
        assert_eq!(body["layout"], "sidebar_left");
    }

    #[test]
    fn a_resource_name_that_is_no_slug_asks_for_spec_slug() {
        let spec = json!({"name": "L", "title": "T", "designation": "authentication"});
        let dotted = flow("login.example", spec.clone());
        assert!(dotted.check_spec().unwrap_err().contains("spec.slug"));
        assert!(flow("login_2-b", spec.clone()).check_spec().is_ok());
        // As long as the newest release accepts (2026.2.2 creates a 51-character slug).
        assert!(flow(&"a".repeat(51), spec).check_spec().is_ok());
    }
}
