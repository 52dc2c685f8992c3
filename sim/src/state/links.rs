//! Groups, flow-stage bindings and policy bindings: writes that record their changes, and
//! the joins answers show (a stage's flows, a flow's stages, a prompt's stages, a policy's
//! uses).

use serde_json::Value;
use uuid::Uuid;

use super::changes::{self, Change, ChangeKind, Subject};
use super::{Flow, Group, Obj, State};
use crate::bindings::BindingData;
use crate::model::Kind;
use crate::policy_bindings::PolicyBindingData;

impl State {
    pub fn insert_group(&mut self, name: &str) -> Uuid {
        let pk = self.new_uuid();
        let seq = self.next_seq();
        let group = Group {
            pk,
            num_pk: fastrand::i64(10_000..100_000),
            name: name.into(),
            is_superuser: false,
            parent: None,
            attributes: Value::Object(Default::default()),
            seq,
        };
        self.changes
            .push(Change::of(ChangeKind::Created, Subject::Group, pk, name));
        self.groups.insert(pk, group);
        pk
    }

    pub fn update_group(
        &mut self,
        pk: Uuid,
        name: Option<String>,
        is_superuser: Option<bool>,
        attributes: Option<Value>,
    ) -> bool {
        let Some(g) = self.groups.get_mut(&pk) else {
            return false;
        };
        if let Some(n) = name {
            g.name = n;
        }
        if let Some(b) = is_superuser {
            g.is_superuser = b;
        }
        if let Some(a) = attributes {
            g.attributes = a;
        }
        let name = g.name.clone();
        self.changes
            .push(Change::of(ChangeKind::Updated, Subject::Group, pk, &name));
        true
    }

    pub fn insert_policy_binding(&mut self, pk: Option<Uuid>, data: PolicyBindingData) -> Uuid {
        let name = self.policy_binding_name(&data);
        let pk = pk.unwrap_or_else(|| self.new_uuid());
        let pk = self.policy_bindings.insert(Some(pk), data);
        self.changes.push(Change::of(
            ChangeKind::Created,
            Subject::PolicyBinding,
            pk,
            &name,
        ));
        pk
    }

    pub fn update_policy_binding(&mut self, pk: Uuid, data: PolicyBindingData) -> bool {
        let name = self.policy_binding_name(&data);
        let done = self.policy_bindings.update(pk, data);
        if done {
            self.changes.push(Change::of(
                ChangeKind::Updated,
                Subject::PolicyBinding,
                pk,
                &name,
            ));
        }
        done
    }

    /// Bind `stage` into `flow` with the model defaults; `None` if either does not exist.
    pub fn bind(&mut self, flow: Uuid, stage: Uuid, order: i64) -> Option<Uuid> {
        if !self.flows.contains_key(&flow) || !self.stages.contains_key(&stage) {
            return None;
        }
        Some(self.insert_binding(BindingData::new(flow, stage, order)))
    }

    pub fn insert_binding(&mut self, data: BindingData) -> Uuid {
        let (pk, pbm) = (self.new_uuid(), self.new_uuid());
        let pk = self.bindings.insert_with(pk, pbm, data);
        self.record_binding(ChangeKind::Created, pk);
        pk
    }

    pub fn update_binding(&mut self, pk: Uuid, data: BindingData) -> bool {
        let done = self.bindings.update(pk, data);
        if done {
            self.record_binding(ChangeKind::Updated, pk);
        }
        done
    }

    fn record_binding(&mut self, action: ChangeKind, pk: Uuid) {
        if let Some(b) = self.bindings.get(pk) {
            let change = Change::of(action, Subject::FlowBinding, pk, &changes::binding_name(b));
            self.changes.push(change);
        }
    }

    /// The flows that bind `stage`, once per binding, in the bindings' physical order (the
    /// stage's `flow_set`).
    pub fn flows_of_stage(&self, stage: Uuid) -> impl Iterator<Item = &Flow> {
        self.bindings
            .of_stage(stage)
            .filter_map(|b| self.flows.get(&b.data.target))
    }

    /// The stages bound into `flow`, once per binding (a flow's `stages`), in the stages'
    /// creation order: the default authentication flow lists its stages in the order its
    /// blueprint creates them (password, MFA, identification, login), not in binding order.
    pub fn stages_of_flow(&self, flow: Uuid) -> Vec<Uuid> {
        let mut stages: Vec<(u64, u64, Uuid)> = self
            .bindings
            .of_flow(flow)
            .filter_map(|b| {
                let s = self.stages.get(&b.data.stage)?;
                Some((s.seq, b.seq, s.pk))
            })
            .collect();
        stages.sort_unstable();
        stages.into_iter().map(|(_, _, pk)| pk).collect()
    }

    /// How many bindings and prompt stages use a policy (`bound_to`).
    pub fn policy_uses(&self, policy: Uuid) -> usize {
        let key = Value::String(policy.to_string());
        let in_prompt_stages = self
            .stages
            .values()
            .filter(|s| {
                s.fields
                    .get("validation_policies")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.contains(&key))
            })
            .count();
        self.policy_bindings.count_policy(policy) + in_prompt_stages
    }

    /// The prompt stages that list `prompt` in their `fields`, in creation order.
    pub fn prompt_stages_of(&self, prompt: Uuid) -> Vec<&Obj> {
        let key = Value::String(prompt.to_string());
        let mut stages: Vec<&Obj> = self
            .stages
            .values()
            .filter(|s| {
                s.kind == Kind::PromptStage
                    && s.fields
                        .get("fields")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.contains(&key))
            })
            .collect();
        stages.sort_by_key(|s| s.seq);
        stages
    }
}
