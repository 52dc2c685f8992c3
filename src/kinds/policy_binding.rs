//! `PolicyBinding`: binds a policy, a group or a user to a flow or a flow-stage binding
//! (`/api/v3/policies/bindings/`): what decides who may enter a flow, or for whom a stage
//! runs. A binding has no name in authentik: its key is what it binds, to what, at which order.

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::{By, GroupRef, KindedRef, Target, TargetRef, UserRef};
use crate::crd::{Policies, StageStatus};

/// The desired binding. Fields left out are not managed.
#[derive(
    kube::CustomResource,
    kube::KubeSchema,
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Debug,
    PartialEq,
)]
#[kube(
    group = "authentik-operator.io",
    version = "v1alpha1",
    kind = "PolicyBinding",
    doc = "A policy, group or user bound to an authentik flow or flow-stage binding: who may enter the flow, or for whom the stage runs.",
    namespaced,
    status = "StageStatus",
    shortname = "akpolicybinding",
    category = "authentik",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".spec.target.ref.name"}"#,
    printcolumn = r#"{"name":"Policy","type":"string","jsonPath":".spec.policy.ref.name"}"#,
    printcolumn = r#"{"name":"Group","type":"string","jsonPath":".spec.group.name"}"#,
    printcolumn = r#"{"name":"Order","type":"integer","jsonPath":".spec.order"}"#,
    printcolumn = r#"{"name":"PK","type":"string","jsonPath":".status.pk","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.policy), has(self.group), has(self.user)].filter(x, x).size() == 1").message("set exactly one of policy, group or user: a binding binds one of them"))]
pub struct PolicyBindingSpec {
    #[serde(flatten)]
    pub policies: Policies,
    /// What the binding applies to: a `Flow` or `FlowStageBinding` resource
    /// (`ref: {kind, name}`), or the pk of a flow or flow-stage binding.
    pub target: TargetRef<super::PolicyTargetKinds>,
    /// The policy bound: a policy resource (`ref: {kind, name}`), a policy's name or pk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<KindedRef<super::PolicyKinds>>,
    /// The group bound (members pass): by name or pk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupRef>,
    /// The user bound (that user passes): by username or pk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserRef>,
    /// Where the binding is evaluated among the target's bindings: lower first.
    #[schemars(range(min = -2147483648, max = 2147483647))]
    pub order: i32,
    /// Invert the result (authentik's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negate: Option<bool>,
    /// Whether the binding is evaluated at all (authentik's default: true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Seconds before the policy's evaluation is abandoned (authentik's default: 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub timeout: Option<i32>,
    /// The result when the policy fails with an error (authentik's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_result: Option<bool>,
}

impl Kind for PolicyBinding {
    const ENDPOINT: &'static str = "policies/bindings/";
    const MODEL: &'static str = "authentik_policies.policybinding";
    const NOUN: &'static str = "policy binding";
    const KEY: &'static [&'static str] = &["target", "policy", "group", "user", "order"];
    const KEY_SCOPE: &'static str = "policies/bindings/";
    // `target` filters by another id than the pk answers show; there are no group or user
    // filters: these are matched in each answer.
    const UNFILTERED_KEY: &'static [&'static str] = &["target", "group", "user"];
    const ONE_OF: &'static [&'static str] = &["policy", "group", "user"];
    const UNIQUENESS: &'static str =
        "a policy binding is identified by its target, what it binds and its order";
    const ORDERING: &'static str = "order";
    const SET_FIELDS: &'static [&'static str] = &[];
    // authentik refuses a PATCH that does not say again what the binding binds (2023.10,
    // 2024.4: a 400), or that has no target (2026.2.2: a server error).
    const ALWAYS_SEND: &'static [&'static str] = &["target", "policy", "group", "user"];
    const REFS: &'static [RefSpec] = &[
        RefSpec::one("target", Target::PolicyTarget),
        RefSpec::one("policy", Target::Policy),
        RefSpec::one("group", Target::Group),
        RefSpec::one("user", Target::User),
    ];

    fn describe_key(key: &str) -> String {
        let parts: Vec<&str> = key.splitn(5, '/').collect();
        let part = |i: usize| parts.get(i).copied().unwrap_or_default();
        let bound = [("policy", part(1)), ("group", part(2)), ("user", part(3))]
            .into_iter()
            .find(|(_, v)| !v.is_empty())
            .map_or_else(|| "nothing".to_string(), |(what, v)| format!("{what} {v}"));
        format!("binding of {bound} to {} at order {}", part(0), part(4))
    }

    fn describe_identity(identity: &str) -> String {
        format!("policy binding of {identity}")
    }

    fn policies(&self) -> &Policies {
        &self.spec.policies
    }

    fn spec_key(&self) -> Option<&str> {
        None
    }

    /// What is bound, to what, at which order, as written (`ref`s qualified by namespace).
    fn identity(&self) -> String {
        let ns = kube::ResourceExt::namespace(self).unwrap_or_default();
        let show = |by: Option<By>| match by {
            Some(By::KindRef(kind, name)) => format!("{kind} {ns}/{name}"),
            Some(other) => other.to_string(),
            None => "?".into(),
        };
        let s = &self.spec;
        let bound = if let Some(p) = &s.policy {
            format!("policy {}", show(p.by()))
        } else if let Some(g) = &s.group {
            format!("group {}", show(g.by()))
        } else {
            format!("user {}", show(s.user.as_ref().and_then(UserRef::by)))
        };
        format!("{bound} to {} at order {}", show(s.target.by()), s.order)
    }

    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }

    fn status(&self) -> Option<&StageStatus> {
        self.status.as_ref()
    }

    fn check_spec(&self) -> Result<(), String> {
        let s = &self.spec;
        let set = [s.policy.is_some(), s.group.is_some(), s.user.is_some()];
        if set.iter().filter(|x| **x).count() != 1 {
            return Err("spec: set exactly one of policy, group or user".into());
        }
        super::check_ref_kind("target", Target::PolicyTarget, s.target.by())?;
        super::check_ref_kind(
            "policy",
            Target::Policy,
            s.policy.as_ref().and_then(KindedRef::by),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::kind::{desired_body, key_query, key_text};
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    fn binding(spec: Value) -> PolicyBinding {
        serde_json::from_value(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PolicyBinding",
            "metadata": {"name": "b", "namespace": "ns"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn the_body_names_what_it_binds_and_nulls_the_rest() {
        let b = binding(json!({
            "target": {"ref": {"kind": "Flow", "name": "login"}},
            "group": {"name": "admins"}, "order": 10, "negate": true
        }));
        let mut resolved = BTreeMap::new();
        resolved.insert("target".to_string(), json!("f1"));
        resolved.insert("group".to_string(), json!("g1"));
        let body = desired_body(&b, &resolved);
        assert_eq!(
            Value::Object(body.clone()),
            json!({"target": "f1", "group": "g1", "policy": null, "user": null, "order": 10, "negate": true})
        );
        let key = key_text(PolicyBinding::KEY, &body).unwrap();
        assert_eq!(key, "f1//g1//10");
        // Only what the list filters on is sent; the rest is matched in the answers.
        assert_eq!(
            key_query(PolicyBinding::KEY, PolicyBinding::UNFILTERED_KEY, &key),
            vec![("order", "10".to_string())]
        );
        assert_eq!(
            PolicyBinding::describe_key(&key),
            "binding of group g1 to f1 at order 10"
        );
        assert_eq!(
            b.identity(),
            "group name \"admins\" to Flow ns/login at order 10"
        );
    }

    #[test]
    fn a_binding_binds_exactly_one_thing() {
        let two = binding(json!({
            "target": {"pk": "0b7a0c51-0000-4000-8000-000000000001"},
            "group": {"name": "a"}, "user": {"username": "u"}, "order": 1
        }));
        assert!(two.check_spec().is_err());
        let user = binding(json!({
            "target": {"pk": "0b7a0c51-0000-4000-8000-000000000001"},
            "user": {"pk": 7}, "order": 1
        }));
        assert!(user.check_spec().is_ok());
        let refs = user.references();
        assert_eq!(refs[3].values, Some(vec![Some(By::Pk("7".into()))]));
    }
}
