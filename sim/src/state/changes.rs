//! The record of changes that the event log turns into `model_created`, `model_updated` and
//! `model_deleted` events: what changed (app and model), its pk and its name as authentik
//! prints them (`name` when the model has one, else `str()` of the object).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Flow, Obj};
use crate::bindings::Binding;
use crate::model::Kind;
use crate::profile::Profile;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

impl ChangeKind {
    pub fn action(self) -> &'static str {
        match self {
            ChangeKind::Created => "model_created",
            ChangeKind::Updated => "model_updated",
            ChangeKind::Deleted => "model_deleted",
        }
    }
}

/// The model of a changed object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Obj(Kind),
    Flow,
    FlowBinding,
    PolicyBinding,
    Group,
    Source,
}

impl Subject {
    /// Django's `app_label` and `model_name`.
    pub fn model(self, profile: Profile) -> (&'static str, &'static str) {
        match self {
            Subject::Obj(k) => (k.app(), k.model_name(profile)),
            Subject::Flow => ("authentik_flows", "flow"),
            Subject::FlowBinding => ("authentik_flows", "flowstagebinding"),
            Subject::PolicyBinding => ("authentik_policies", "policybinding"),
            Subject::Group => ("authentik_core", "group"),
            Subject::Source => ("authentik_core", "source"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub action: ChangeKind,
    pub subject: Subject,
    pub pk: Uuid,
    pub name: String,
    /// `{field: {"new_value", "previous_value"}}` (shown by 2024.x releases only).
    pub diff: Map<String, Value>,
}

impl Change {
    pub fn of(action: ChangeKind, subject: Subject, pk: Uuid, name: &str) -> Change {
        Change {
            action,
            subject,
            pk,
            name: name.to_string(),
            diff: Map::new(),
        }
    }

    pub fn created_obj(obj: &Obj) -> Change {
        let mut c = Change::of(
            ChangeKind::Created,
            Subject::Obj(obj.kind),
            obj.pk,
            &obj.name,
        );
        c.diff
            .insert("name".into(), entry(json!(obj.name), Value::Null));
        for (k, v) in &obj.fields {
            if !v.is_null() {
                c.diff
                    .insert((*k).to_string(), entry(v.clone(), Value::Null));
            }
        }
        c
    }

    pub fn updated_obj(before: &Obj, after: &Obj) -> Change {
        let mut c = Change::of(
            ChangeKind::Updated,
            Subject::Obj(after.kind),
            after.pk,
            &after.name,
        );
        if before.name != after.name {
            c.diff
                .insert("name".into(), entry(json!(after.name), json!(before.name)));
        }
        for (k, v) in &after.fields {
            let old = before.fields.get(k).cloned().unwrap_or(Value::Null);
            if old != *v {
                c.diff.insert((*k).to_string(), entry(v.clone(), old));
            }
        }
        c
    }

    pub fn deleted_obj(obj: &Obj) -> Change {
        Change::of(
            ChangeKind::Deleted,
            Subject::Obj(obj.kind),
            obj.pk,
            &obj.name,
        )
    }

    pub fn flow(action: ChangeKind, f: &Flow) -> Change {
        Change::of(action, Subject::Flow, f.pk, &f.name)
    }
}

fn entry(new: Value, previous: Value) -> Value {
    json!({"new_value": new, "previous_value": previous})
}

/// `str()` of a flow-stage binding.
pub fn binding_name(b: &Binding) -> String {
    format!("Flow-stage binding #{} to {}", b.data.order, b.data.target)
}

/// `str()` of a flow.
pub fn flow_name(f: &Flow) -> String {
    format!("Flow {} ({})", f.name, f.slug)
}

impl super::State {
    /// `str()` of the object holding a policy-binding-model id.
    pub fn pbm_name(&self, pbm: Uuid) -> String {
        use super::PbmOwner;
        match self.pbm_owner(pbm) {
            Some(PbmOwner::Flow(pk)) => self.flows.get(&pk).map(flow_name),
            Some(PbmOwner::Binding(pk)) => self.bindings.get(pk).map(binding_name),
            Some(PbmOwner::Rule(pk)) => self
                .rules
                .get(&pk)
                .map(|r| format!("Notification Rule {}", r.name)),
            None => None,
        }
        .unwrap_or_else(|| format!("PolicyBindingModel {pbm}"))
    }

    /// `str()` of a policy binding: `Binding from <target> #<order> to <Type> <name>`.
    pub fn policy_binding_name(&self, d: &crate::policy_bindings::PolicyBindingData) -> String {
        let suffix = if let Some(p) = d.policy {
            format!(
                "Policy {}",
                self.policies.get(&p).map_or("", |o| o.name.as_str())
            )
        } else if let Some(g) = d.group {
            format!(
                "Group {}",
                self.groups.get(&g).map_or("", |g| g.name.as_str())
            )
        } else if let Some(u) = d.user {
            format!("User {}", self.user(u).map_or("", |u| u.name.as_str()))
        } else {
            "Invalid invalid".into()
        };
        format!(
            "Binding from {} #{} to {suffix}",
            self.pbm_name(d.target),
            d.order
        )
    }
}
