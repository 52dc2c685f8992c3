//! The in-memory database: stages, policies, prompts, flows, sources, groups, users and both
//! kinds of bindings, with the cascades authentik's models perform on delete
//! (`cascade.rs`) and a record of every change for the event log (`changes.rs`).

mod cascade;
mod changes;
mod links;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use uuid::Uuid;

use crate::bindings::Bindings;
use crate::model::{Family, Kind, Target};
use crate::policy_bindings::PolicyBindings;

pub use changes::{Change, ChangeKind};

/// How authentik prints objects (`str()`).
pub mod changes_names {
    pub use super::changes::{binding_name, flow_name};
}

/// A stage, policy or prompt: its generic fields and its kind's fields.
#[derive(Debug, Clone)]
pub struct Obj {
    pub pk: Uuid,
    pub name: String,
    pub kind: Kind,
    /// Kind-specific fields, stored as their JSON values (uuids as strings).
    pub fields: BTreeMap<&'static str, Value>,
    /// Creation order (the database's natural order).
    pub seq: u64,
}

/// The stage family's objects are stages.
pub type Stage = Obj;

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

#[derive(Debug, Clone)]
pub struct Group {
    pub pk: Uuid,
    /// A random integer key authentik gives every group.
    pub num_pk: i64,
    pub name: String,
    pub is_superuser: bool,
    pub parent: Option<Uuid>,
    pub attributes: Value,
    pub seq: u64,
}

#[derive(Debug, Clone)]
pub struct User {
    pub pk: i64,
    pub uuid: Uuid,
    pub username: String,
    pub name: String,
    pub email: String,
    /// The API token that authenticates as this user.
    pub token: Option<String>,
}

/// A policy-binding target that is neither a flow nor a flow-stage binding (the notification
/// rules a fresh install binds its event-matcher policies to). It has no endpoint here.
#[derive(Debug, Clone)]
pub struct Rule {
    pub pk: Uuid,
    pub pbm: Uuid,
    pub name: String,
}

/// What a policy-binding-model id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PbmOwner {
    Flow(Uuid),
    Binding(Uuid),
    Rule(Uuid),
}

#[derive(Debug, Default, Clone)]
pub struct State {
    pub stages: HashMap<Uuid, Obj>,
    pub policies: HashMap<Uuid, Obj>,
    pub prompts: HashMap<Uuid, Obj>,
    pub flows: HashMap<Uuid, Flow>,
    pub sources: HashMap<Uuid, Source>,
    pub bindings: Bindings,
    pub policy_bindings: PolicyBindings,
    pub groups: HashMap<Uuid, Group>,
    pub users: Vec<User>,
    pub rules: HashMap<Uuid, Rule>,
    /// Changes since the last drain (see `changes.rs`).
    pub changes: Vec<Change>,
    /// Keys to give the next new objects instead of random ones (see
    /// [`crate::Control::queue_uuids`]).
    pub next_uuids: std::collections::VecDeque<Uuid>,
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

    pub fn of(f: &Flow) -> FlowData {
        FlowData {
            name: f.name.clone(),
            slug: f.slug.clone(),
            title: f.title.clone(),
            designation: f.designation.clone(),
            background: f.background.clone(),
            policy_engine_mode: f.policy_engine_mode.clone(),
            compatibility_mode: f.compatibility_mode,
            layout: f.layout.clone(),
            denied_action: f.denied_action.clone(),
            authentication: f.authentication.clone(),
        }
    }
}

impl User {
    /// A stable opaque id (authentik hashes the pk with its secret key).
    pub fn uid(&self) -> String {
        self.uuid.simple().to_string()
    }
}

impl State {
    /// A key for a new object: the next queued one, or a random one.
    pub fn new_uuid(&mut self) -> Uuid {
        self.next_uuids.pop_front().unwrap_or_else(Uuid::new_v4)
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn table(&self, family: Family) -> &HashMap<Uuid, Obj> {
        match family {
            Family::Stage => &self.stages,
            Family::Policy => &self.policies,
            Family::Prompt => &self.prompts,
        }
    }

    pub fn table_mut(&mut self, family: Family) -> &mut HashMap<Uuid, Obj> {
        match family {
            Family::Stage => &mut self.stages,
            Family::Policy => &mut self.policies,
            Family::Prompt => &mut self.prompts,
        }
    }

    /// A stage, policy or prompt by pk.
    pub fn obj(&self, pk: Uuid) -> Option<&Obj> {
        self.stages
            .get(&pk)
            .or_else(|| self.policies.get(&pk))
            .or_else(|| self.prompts.get(&pk))
    }

    /// Names are unique within a family, compared exactly.
    pub fn name_taken(&self, family: Family, name: &str, except: Option<Uuid>) -> bool {
        self.table(family)
            .values()
            .any(|s| s.name == name && Some(s.pk) != except)
    }

    pub fn flow_by_slug(&self, slug: &str) -> Option<&Flow> {
        self.flows.values().find(|f| f.slug == slug)
    }

    pub fn source_by_slug(&self, slug: &str) -> Option<&Source> {
        self.sources.values().find(|s| s.slug == slug)
    }

    pub fn user(&self, pk: i64) -> Option<&User> {
        self.users.iter().find(|u| u.pk == pk)
    }

    /// Whether `pk` is an object `target` may point at.
    pub fn exists(&self, target: Target, pk: Uuid) -> bool {
        match target {
            Target::Flow => self.flows.contains_key(&pk),
            Target::Source => self.sources.contains_key(&pk),
            Target::Stage => self.stages.contains_key(&pk),
            Target::StageOf(kind) => self.stages.get(&pk).is_some_and(|s| s.kind == kind),
            Target::Prompt => self.prompts.contains_key(&pk),
            Target::Policy => self.policies.contains_key(&pk),
            Target::Group => self.groups.contains_key(&pk),
            Target::Pbm => self.pbm_owner(pk).is_some(),
            Target::DeviceType => false,
        }
    }

    /// The object a policy-binding-model id belongs to.
    pub fn pbm_owner(&self, pbm: Uuid) -> Option<PbmOwner> {
        if let Some(f) = self.flows.values().find(|f| f.pbm == pbm) {
            return Some(PbmOwner::Flow(f.pk));
        }
        if let Some(b) = self.bindings.by_pbm(pbm) {
            return Some(PbmOwner::Binding(b.pk));
        }
        self.rules
            .values()
            .find(|r| r.pbm == pbm)
            .map(|r| PbmOwner::Rule(r.pk))
    }

    /// The policy-binding-model id of an object given by its own pk or by that id.
    pub fn resolve_pbm(&self, id: Uuid) -> Option<Uuid> {
        if let Some(f) = self.flows.get(&id) {
            return Some(f.pbm);
        }
        if let Some(b) = self.bindings.get(id) {
            return Some(b.pbm);
        }
        if let Some(r) = self.rules.get(&id) {
            return Some(r.pbm);
        }
        self.pbm_owner(id).map(|_| id)
    }

    /// The own pk of the object that holds `pbm` (what answers show as a binding's target).
    pub fn pbm_object_pk(&self, pbm: Uuid) -> Option<Uuid> {
        self.pbm_owner(pbm).map(|o| match o {
            PbmOwner::Flow(pk) | PbmOwner::Binding(pk) | PbmOwner::Rule(pk) => pk,
        })
    }

    pub fn insert_obj(
        &mut self,
        kind: Kind,
        pk: Option<Uuid>,
        name: String,
        fields: BTreeMap<&'static str, Value>,
    ) -> Uuid {
        let pk = pk.unwrap_or_else(|| self.new_uuid());
        let seq = self.next_seq();
        let obj = Obj {
            pk,
            name,
            kind,
            fields,
            seq,
        };
        self.changes.push(Change::created_obj(&obj));
        self.table_mut(kind.family()).insert(pk, obj);
        pk
    }

    /// Apply a write to an object: its name (if sent) and the fields sent.
    pub fn update_obj(
        &mut self,
        pk: Uuid,
        name: Option<String>,
        fields: BTreeMap<&'static str, Value>,
    ) -> bool {
        let Some(family) = self.obj(pk).map(|o| o.kind.family()) else {
            return false;
        };
        let Some(obj) = self.table_mut(family).get_mut(&pk) else {
            return false;
        };
        let before = obj.clone();
        if let Some(name) = name {
            obj.name = name;
        }
        obj.fields.extend(fields);
        let change = Change::updated_obj(&before, obj);
        self.changes.push(change);
        true
    }

    pub fn insert_flow(&mut self, data: FlowData) -> Uuid {
        let (pk, pbm) = (self.new_uuid(), self.new_uuid());
        self.insert_flow_with(pk, pbm, data)
    }

    pub fn insert_flow_with(&mut self, pk: Uuid, pbm: Uuid, data: FlowData) -> Uuid {
        let seq = self.next_seq();
        let f = data;
        let flow = Flow {
            pk,
            pbm,
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
        };
        self.changes.push(Change::flow(ChangeKind::Created, &flow));
        self.flows.insert(pk, flow);
        pk
    }

    pub fn update_flow(&mut self, pk: Uuid, data: FlowData) -> bool {
        let Some(flow) = self.flows.get_mut(&pk) else {
            return false;
        };
        flow.name = data.name;
        flow.slug = data.slug;
        flow.title = data.title;
        flow.designation = data.designation;
        flow.background = data.background;
        flow.policy_engine_mode = data.policy_engine_mode;
        flow.compatibility_mode = data.compatibility_mode;
        flow.layout = data.layout;
        flow.denied_action = data.denied_action;
        flow.authentication = data.authentication;
        let change = Change::flow(ChangeKind::Updated, flow);
        self.changes.push(change);
        true
    }

    pub fn insert_source(&mut self, name: &str, slug: &str, managed: Option<&str>) -> Uuid {
        self.insert_source_with(Uuid::new_v4(), name, slug, managed)
    }

    pub fn insert_source_with(
        &mut self,
        pk: Uuid,
        name: &str,
        slug: &str,
        managed: Option<&str>,
    ) -> Uuid {
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

    /// Drop the changes recorded so far (writes that the event log does not see).
    pub fn forget_changes(&mut self) {
        self.changes.clear();
    }
}
