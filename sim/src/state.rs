//! The in-memory database: stages, flows, sources and flow-stage bindings, with the cascades
//! authentik's models perform on delete.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use uuid::Uuid;

use crate::bindings::{BindingData, Bindings};
use crate::model::{Kind, Target, Ty};

#[derive(Debug, Clone)]
pub struct Stage {
    pub pk: Uuid,
    pub name: String,
    pub kind: Kind,
    /// Kind-specific fields, stored as their JSON values (uuids as strings).
    pub fields: BTreeMap<&'static str, Value>,
    /// Creation order (the database's natural order).
    pub seq: u64,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub pk: Uuid,
    /// The parent `PolicyBindingModel` key (differs from `pk`).
    pub pbm: Uuid,
    pub name: String,
    pub slug: String,
    pub title: String,
    pub designation: String,
    pub background: String,
    pub policy_engine_mode: String,
    pub compatibility_mode: bool,
    pub layout: String,
    pub denied_action: String,
    pub authentication: String,
    pub seq: u64,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub pk: Uuid,
    pub name: String,
    pub slug: String,
    pub enabled: bool,
    pub managed: Option<String>,
    pub user_path_template: String,
    pub seq: u64,
}

#[derive(Debug, Default, Clone)]
pub struct State {
    pub stages: HashMap<Uuid, Stage>,
    pub flows: HashMap<Uuid, Flow>,
    pub sources: HashMap<Uuid, Source>,
    pub bindings: Bindings,
    seq: u64,
}

/// The field values of a new flow (everything but the generated keys).
#[derive(Debug, Clone)]
pub struct FlowData {
    pub name: String,
    pub slug: String,
    pub title: String,
    pub designation: String,
    pub background: String,
    pub policy_engine_mode: String,
    pub compatibility_mode: bool,
    pub layout: String,
    pub denied_action: String,
    pub authentication: String,
}

impl FlowData {
    /// A flow with the model defaults.
    pub fn new(name: &str, slug: &str, title: &str, designation: &str) -> FlowData {
        FlowData {
            name: name.into(),
            slug: slug.into(),
            title: title.into(),
            designation: designation.into(),
            background: String::new(),
            policy_engine_mode: "any".into(),
            compatibility_mode: false,
            layout: "stacked".into(),
            denied_action: "message_continue".into(),
            authentication: "none".into(),
        }
    }
}

impl State {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Stage names are unique across all kinds, compared exactly.
    pub fn stage_name_taken(&self, name: &str, except: Option<Uuid>) -> bool {
        self.stages
            .values()
            .any(|s| s.name == name && Some(s.pk) != except)
    }

    pub fn flow_by_slug(&self, slug: &str) -> Option<&Flow> {
        self.flows.values().find(|f| f.slug == slug)
    }

    pub fn source_by_slug(&self, slug: &str) -> Option<&Source> {
        self.sources.values().find(|s| s.slug == slug)
    }

    /// Whether `pk` is an object `target` may point at.
    pub fn exists(&self, target: Target, pk: Uuid) -> bool {
        match target {
            Target::Flow => self.flows.contains_key(&pk),
            Target::Source => self.sources.contains_key(&pk),
            Target::Stage => self.stages.contains_key(&pk),
            Target::CaptchaStage => false,
            kind_target => self
                .stages
                .get(&pk)
                .is_some_and(|s| s.kind.as_target() == Some(kind_target)),
        }
    }

    pub fn insert_stage(
        &mut self,
        kind: Kind,
        name: String,
        fields: BTreeMap<&'static str, Value>,
    ) -> Uuid {
        let pk = Uuid::new_v4();
        let seq = self.next_seq();
        self.stages.insert(
            pk,
            Stage {
                pk,
                name,
                kind,
                fields,
                seq,
            },
        );
        pk
    }

    pub fn insert_flow(&mut self, data: FlowData) -> Uuid {
        let pk = Uuid::new_v4();
        let seq = self.next_seq();
        let f = data;
        self.flows.insert(
            pk,
            Flow {
                pk,
                pbm: Uuid::new_v4(),
                name: f.name,
                slug: f.slug,
                title: f.title,
                designation: f.designation,
                background: f.background,
                policy_engine_mode: f.policy_engine_mode,
                compatibility_mode: f.compatibility_mode,
                layout: f.layout,
                denied_action: f.denied_action,
                authentication: f.authentication,
                seq,
            },
        );
        pk
    }

    pub fn insert_source(&mut self, name: &str, slug: &str, managed: Option<&str>) -> Uuid {
        let pk = Uuid::new_v4();
        let seq = self.next_seq();
        self.sources.insert(
            pk,
            Source {
                pk,
                name: name.into(),
                slug: slug.into(),
                enabled: true,
                managed: managed.map(str::to_string),
                user_path_template: "goauthentik.io/sources/%(slug)s".into(),
                seq,
            },
        );
        pk
    }

    /// Bind `stage` into `flow` with the model defaults; `None` if either does not exist.
    pub fn bind(&mut self, flow: Uuid, stage: Uuid, order: i64) -> Option<Uuid> {
        if !self.flows.contains_key(&flow) || !self.stages.contains_key(&stage) {
            return None;
        }
        Some(self.bindings.insert(BindingData::new(flow, stage, order)))
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

    /// Delete a stage: its bindings go, references to it become null.
    pub fn delete_stage(&mut self, pk: Uuid) -> bool {
        let Some(stage) = self.stages.remove(&pk) else {
            return false;
        };
        self.bindings.remove_stage(pk);
        if let Some(target) = stage.kind.as_target() {
            self.clear_references(target, pk);
        }
        true
    }

    /// Delete a flow: its bindings go (the stages stay), references become null.
    pub fn delete_flow(&mut self, pk: Uuid) -> bool {
        if self.flows.remove(&pk).is_none() {
            return false;
        }
        self.bindings.remove_flow(pk);
        self.clear_references(Target::Flow, pk);
        true
    }

    /// Delete a source: identification stages drop it from `sources`.
    pub fn delete_source(&mut self, pk: Uuid) -> bool {
        if self.sources.remove(&pk).is_none() {
            return false;
        }
        self.clear_references(Target::Source, pk);
        true
    }

    /// Null every foreign key to `pk` and drop it from every many-to-many list.
    fn clear_references(&mut self, target: Target, pk: Uuid) {
        let key = Value::String(pk.to_string());
        for stage in self.stages.values_mut() {
            for spec in stage.kind.all_fields() {
                let Some(value) = stage.fields.get_mut(spec.name) else {
                    continue;
                };
                match spec.ty {
                    Ty::Fk(t) if t == target && *value == key => *value = Value::Null,
                    Ty::M2m(t) if t == target => {
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
