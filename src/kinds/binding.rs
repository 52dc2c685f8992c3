//! `FlowStageBinding`: a stage bound to a flow at an order (`/api/v3/flows/bindings/`). A
//! binding has no name in authentik: its key is (flow, stage, order).

use super::flow::PolicyEngineMode;
use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::{By, FlowRef, KindedRef, Target};
use crate::crd::{Policies, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the flow executor does with an invalid answer to the stage's challenge.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InvalidResponseAction {
    /// Show the error and the challenge again.
    Retry,
    /// Restart the flow.
    Restart,
    /// Restart the flow, keeping its context.
    RestartWithContext,
}

/// The stage a binding binds: a stage resource (`ref: {kind, name}`), an authentik stage's
/// name (of any kind), or a pk.
pub type BoundStage = KindedRef<super::AnyStageKinds>;

/// The desired binding. Fields left out are not managed.
#[derive(
    kube::CustomResource, kube::KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq,
)]
#[kube(
    group = "authentik-operator.io",
    version = "v1alpha1",
    kind = "FlowStageBinding",
    doc = "A stage bound to an authentik flow at an order: together, a flow's bindings are the steps of the flow.",
    namespaced,
    status = "StageStatus",
    shortname = "akbinding",
    category = "authentik",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Flow","type":"string","jsonPath":".spec.flow.ref"}"#,
    printcolumn = r#"{"name":"Stage","type":"string","jsonPath":".spec.stage.ref.name"}"#,
    printcolumn = r#"{"name":"Order","type":"integer","jsonPath":".spec.order"}"#,
    printcolumn = r#"{"name":"PK","type":"string","jsonPath":".status.pk","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FlowStageBindingSpec {
    #[serde(flatten)]
    pub policies: Policies,
    /// The flow: a `Flow` resource (`ref`), a slug or a pk.
    pub flow: FlowRef,
    /// The stage: a stage resource (`ref: {kind, name}`), an authentik stage name or a pk.
    pub stage: BoundStage,
    /// Where the stage runs in the flow: lower first.
    #[schemars(range(min = -2147483648, max = 2147483647))]
    pub order: i32,
    /// Evaluate the binding's policies when the flow is planned (authentik's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_on_plan: Option<bool>,
    /// Evaluate the binding's policies when the stage is shown (authentik's default: true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re_evaluate_policies: Option<bool>,
    /// Whether all or any of the binding's policies must pass (authentik's default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<PolicyEngineMode>,
    /// What to do with an invalid answer (authentik's default: retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_response_action: Option<InvalidResponseAction>,
}

impl Kind for FlowStageBinding {
    const ENDPOINT: &'static str = "flows/bindings/";
    const MODEL: &'static str = "authentik_flows.flowstagebinding";
    const NOUN: &'static str = "binding";
    const KEY: &'static [&'static str] = &["target", "stage", "order"];
    const KEY_SCOPE: &'static str = "flows/bindings/";
    const UNIQUENESS: &'static str = "authentik binds a stage to a flow at one order only once";
    const ORDERING: &'static str = "order";
    const RENAMED: &'static [(&'static str, &'static str)] = &[("flow", "target")];
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const REFS: &'static [RefSpec] = &[
        RefSpec::one("flow", Target::Flow),
        RefSpec::one("stage", Target::AnyStage),
    ];
    const SHOWN_ON: &'static [&'static str] = &["stage"];

    fn describe_key(key: &str) -> String {
        let mut parts = key.splitn(3, '/');
        let (flow, stage, order) = (parts.next(), parts.next(), parts.next());
        format!(
            "binding of stage {} to flow {} at order {}",
            stage.unwrap_or("?"),
            flow.unwrap_or("?"),
            order.unwrap_or("?")
        )
    }

    fn describe_identity(identity: &str) -> String {
        format!("binding of {identity}")
    }

    fn policies(&self) -> &Policies {
        &self.spec.policies
    }

    fn spec_key(&self) -> Option<&str> {
        None
    }

    /// The stage, flow and order as written, with `ref`s qualified by namespace (a ref
    /// names a different stage in another namespace).
    fn identity(&self) -> String {
        let ns = kube::ResourceExt::namespace(self).unwrap_or_default();
        let show = |by: Option<By>| match by {
            Some(By::Ref(name)) => format!("Flow {ns}/{name}"),
            Some(By::KindRef(kind, name)) => format!("{kind} {ns}/{name}"),
            Some(other) => other.to_string(),
            None => "?".into(),
        };
        format!(
            "stage {} to flow {} at order {}",
            show(self.spec.stage.by()),
            show(self.spec.flow.by()),
            self.spec.order
        )
    }

    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }

    fn status(&self) -> Option<&StageStatus> {
        self.status.as_ref()
    }

    fn check_spec(&self) -> Result<(), String> {
        super::check_ref_kind("stage", Target::AnyStage, self.spec.stage.by())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::kind::{desired_body, key_text};
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    fn binding(spec: Value) -> FlowStageBinding {
        serde_json::from_value(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "FlowStageBinding",
            "metadata": {"name": "b", "namespace": "ns"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn the_body_sends_the_flow_as_target_and_the_key_is_flow_stage_order() {
        let b = binding(json!({
            "flow": {"ref": "login"},
            "stage": {"ref": {"kind": "PasswordStage", "name": "pw"}},
            "order": 20, "reEvaluatePolicies": true
        }));
        let mut resolved = BTreeMap::new();
        resolved.insert("flow".to_string(), json!("f1"));
        resolved.insert("stage".to_string(), json!("s1"));
        let body = desired_body(&b, &resolved);
        assert_eq!(
            Value::Object(body.clone()),
            json!({"target": "f1", "stage": "s1", "order": 20, "re_evaluate_policies": true})
        );
        assert_eq!(
            key_text(FlowStageBinding::KEY, &body).as_deref(),
            Some("f1/s1/20")
        );
        assert_eq!(
            FlowStageBinding::describe_key("f1/s1/20"),
            "binding of stage s1 to flow f1 at order 20"
        );
        assert_eq!(
            b.identity(),
            "stage PasswordStage ns/pw to flow Flow ns/login at order 20"
        );
    }

    #[test]
    fn a_ref_names_its_kind_and_only_stage_kinds_pass() {
        let b = binding(json!({
            "flow": {"slug": "default-authentication-flow"},
            "stage": {"ref": {"kind": "UserLoginStage", "name": "login"}},
            "order": 100
        }));
        let refs = b.references();
        assert_eq!(
            refs[1].refs_to("UserLoginStage").collect::<Vec<_>>(),
            ["login"]
        );
        assert_eq!(refs[1].refs_to("PasswordStage").count(), 0);
        assert!(b.check_spec().is_ok());
        let flow = binding(json!({
            "flow": {"pk": "0b7a0c51-0000-4000-8000-000000000001"},
            "stage": {"ref": {"kind": "Flow", "name": "x"}},
            "order": 1
        }));
        assert!(
            flow.check_spec()
                .unwrap_err()
                .contains("spec.stage.ref.kind")
        );
    }
}
