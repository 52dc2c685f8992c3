//! Deletes and what they cascade to, as authentik's models declare it: bindings of a deleted
//! stage, flow or policy go (and the policy bindings on a deleted flow-stage binding), nullable
//! references become null, many-to-many lists drop the object. Every deleted row is
//! recorded as a change, the object first and then what it took with it (sorted by pk per
//! model, as Django's deletion collector does); updates made by `SET_NULL` are not.

use serde_json::Value;
use uuid::Uuid;

use super::changes::{Change, ChangeKind, Subject, binding_name};
use super::{Family, State};
use crate::model::{Target, Ty};

impl State {
    /// Delete a stage, policy or prompt with its cascades.
    pub fn delete_obj(&mut self, pk: Uuid) -> bool {
        let Some(family) = self.obj(pk).map(|o| o.kind.family()) else {
            return false;
        };
        let Some(obj) = self.table_mut(family).remove(&pk) else {
            return false;
        };
        self.changes.push(Change::deleted_obj(&obj));
        let kind = obj.kind;
        match family {
            Family::Stage => {
                let mut fsbs: Vec<Uuid> = self.bindings.of_stage(pk).map(|b| b.pk).collect();
                fsbs.sort_unstable();
                self.delete_bindings_quietly(&fsbs);
                self.clear_references(|t| t == Target::Stage || t == Target::StageOf(kind), pk);
            }
            Family::Policy => {
                let pbs = self.policy_bindings.matching(|d| d.policy == Some(pk));
                self.delete_policy_bindings(&pbs);
                self.clear_references(|t| t == Target::Policy, pk);
            }
            Family::Prompt => self.clear_references(|t| t == Target::Prompt, pk),
        }
        true
    }

    /// Delete a flow: its flow-stage bindings and the policy bindings on it and on them go
    /// (the stages stay), references to it become null.
    pub fn delete_flow(&mut self, pk: Uuid) -> bool {
        let Some(flow) = self.flows.remove(&pk) else {
            return false;
        };
        self.changes.push(Change::flow(ChangeKind::Deleted, &flow));
        let mut fsbs: Vec<Uuid> = self.bindings.of_flow(pk).map(|b| b.pk).collect();
        fsbs.sort_unstable();
        let pbs = self.policy_bindings.matching(|d| d.target == flow.pbm);
        self.delete_bindings_quietly(&fsbs);
        let named: Vec<(Uuid, String)> = pbs
            .iter()
            .filter_map(|pk| {
                let b = self.policy_bindings.get(*pk)?;
                let policy = self.policy_binding_name(&b.data);
                // The flow is gone already: authentik prints the target as it was.
                Some((
                    *pk,
                    policy.replacen(
                        &format!("PolicyBindingModel {}", flow.pbm),
                        &super::changes_names::flow_name(&flow),
                        1,
                    ),
                ))
            })
            .collect();
        self.remove_policy_bindings(named);
        self.clear_references(|t| t == Target::Flow, pk);
        true
    }

    /// Delete a flow-stage binding and the policy bindings on it.
    pub fn delete_binding(&mut self, pk: Uuid) -> bool {
        if self.bindings.get(pk).is_none() {
            return false;
        }
        self.delete_bindings_quietly(&[pk]);
        true
    }

    /// Delete flow-stage bindings (recorded), then the policy bindings on them.
    fn delete_bindings_quietly(&mut self, pks: &[Uuid]) {
        let pbms: Vec<Uuid> = pks
            .iter()
            .filter_map(|pk| self.bindings.get(*pk).map(|b| b.pbm))
            .collect();
        let pbs = self.policy_bindings.matching(|d| pbms.contains(&d.target));
        let names = self.policy_binding_names(&pbs);
        for pk in pks {
            if let Some(b) = self.bindings.remove(*pk) {
                let name = binding_name(&b);
                self.changes.push(Change::of(
                    ChangeKind::Deleted,
                    Subject::FlowBinding,
                    *pk,
                    &name,
                ));
            }
        }
        self.remove_policy_bindings(names);
    }

    /// `str()` of policy bindings, taken while their targets still exist.
    fn policy_binding_names(&self, pks: &[Uuid]) -> Vec<(Uuid, String)> {
        pks.iter()
            .filter_map(|pk| {
                let b = self.policy_bindings.get(*pk)?;
                Some((*pk, self.policy_binding_name(&b.data)))
            })
            .collect()
    }

    fn remove_policy_bindings(&mut self, named: Vec<(Uuid, String)>) {
        for (pk, name) in named {
            if self.policy_bindings.remove(pk).is_some() {
                self.changes.push(Change::of(
                    ChangeKind::Deleted,
                    Subject::PolicyBinding,
                    pk,
                    &name,
                ));
            }
        }
    }

    pub fn delete_policy_bindings(&mut self, pks: &[Uuid]) {
        let named = self.policy_binding_names(pks);
        self.remove_policy_bindings(named);
    }

    /// Delete a group: its policy bindings go, `create_users_group` becomes null.
    pub fn delete_group(&mut self, pk: Uuid) -> bool {
        let Some(group) = self.groups.remove(&pk) else {
            return false;
        };
        self.changes.push(Change::of(
            ChangeKind::Deleted,
            Subject::Group,
            pk,
            &group.name,
        ));
        let pbs = self.policy_bindings.matching(|d| d.group == Some(pk));
        self.delete_policy_bindings(&pbs);
        for g in self.groups.values_mut() {
            if g.parent == Some(pk) {
                g.parent = None;
            }
        }
        self.clear_references(|t| t == Target::Group, pk);
        true
    }

    /// Delete a source: identification stages drop it from `sources`.
    pub fn delete_source(&mut self, pk: Uuid) -> bool {
        let Some(source) = self.sources.remove(&pk) else {
            return false;
        };
        self.changes.push(Change::of(
            ChangeKind::Deleted,
            Subject::Source,
            pk,
            &source.name,
        ));
        self.clear_references(|t| t == Target::Source, pk);
        true
    }

    /// Null every foreign key to `pk` and drop it from every many-to-many list, in every
    /// table, for the fields whose target `points_here` accepts.
    fn clear_references(&mut self, points_here: impl Fn(Target) -> bool, pk: Uuid) {
        let key = Value::String(pk.to_string());
        for family in [Family::Stage, Family::Policy, Family::Prompt] {
            for obj in self.table_mut(family).values_mut() {
                for spec in obj.kind.all_fields() {
                    let Some(value) = obj.fields.get_mut(spec.name) else {
                        continue;
                    };
                    match spec.ty {
                        Ty::Fk(t) if points_here(t) && *value == key => *value = Value::Null,
                        Ty::M2m { target, .. } if points_here(target) => {
                            if let Value::Array(items) = value {
                                items.retain(|v| *v != key);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}
