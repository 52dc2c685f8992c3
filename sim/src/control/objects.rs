//! Shortcuts to create, inspect, change and delete objects: in-process API calls (as
//! `akadmin` or as another user, with the API's validation and event log), peeks, and
//! changes behind the API's back (no validation, no event: as if made in the database).

use std::fmt::Display;

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::Value;
use uuid::Uuid;

use super::Control;
use crate::model::Kind;
use crate::py;
use crate::render::{self, StageClass};
use crate::routes::{self, Route};
use crate::state::{FlowData, State};

/// The status and JSON body (`Null` when there is none) of an in-process API call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiReply {
    pub status: u16,
    pub body: Value,
}

impl Control {
    /// Run `f` on the state; its changes leave no event.
    fn quietly<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.write();
        let r = f(&mut state);
        state.forget_changes();
        r
    }

    /// Call the API in-process with `akadmin`'s token: `path` is relative to `/api/v3/` and
    /// may carry a query (`stages/password/?name=x`). Not logged or counted, no faults.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> ApiReply {
        let token = self.token().to_string();
        self.call(&token, method, path, body)
    }

    /// Like [`Control::api`], as `username` (made, with a token, if it does not exist): how
    /// a test changes an object as a person in the UI would; the event log shows that user.
    pub fn api_as(
        &self,
        username: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> ApiReply {
        let token = self.token_of(username);
        self.call(&token, method, path, body)
    }

    fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> ApiReply {
        let path = path.trim_start_matches('/').trim_start_matches("api/v3/");
        let (api_path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(header::AUTHORIZATION, v);
        }
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static("authentik-sim control"),
        );
        let bytes = match &body {
            Some(b) => {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                serde_json::to_vec(b).unwrap_or_default()
            }
            None => Vec::new(),
        };
        let route = Route::parse(api_path);
        let method = method.to_ascii_uppercase();
        let reply = routes::handle(
            self,
            &method,
            api_path,
            route.as_ref(),
            query,
            &headers,
            &bytes,
        );
        ApiReply {
            status: reply.status,
            body: reply.json_body().map_or(Value::Null, |o| o.to_value()),
        }
    }

    /// Give the next objects created (through the API or here) these keys, in order, instead
    /// of random ones: a test that replays a real server's requests can make the simulator
    /// generate the keys the server did, so that orders depending on them compare exactly.
    pub fn queue_uuids(&self, uuids: impl IntoIterator<Item = Uuid>) {
        self.write().next_uuids.extend(uuids);
    }

    /// What a GET of `path` answers (a list's body, or one object); `None` unless 200.
    pub fn peek(&self, path: &str) -> Option<Value> {
        let r = self.api("GET", path, None);
        (r.status == 200).then_some(r.body)
    }

    /// Delete the object at an API detail path (`stages/deny/<pk>/`, `flows/instances/<slug>/`,
    /// `flows/bindings/<pk>/`, `policies/bindings/<pk>/`, `core/groups/<pk>/`, …) behind the
    /// API's back, with its cascades and without events. `false` if there is no such object.
    pub fn delete_quietly(&self, path: &str) -> bool {
        let path = path.trim_start_matches('/').trim_start_matches("api/v3/");
        let Some(route) = Route::parse(path) else {
            return false;
        };
        self.quietly(|state| match route {
            Route::KindDetail(_, id) | Route::AllDetail(_, id) => {
                py::parse_uuid(&id).is_some_and(|pk| state.delete_obj(pk))
            }
            Route::FlowDetail(slug) => {
                let pk = state.flow_by_slug(&slug).map(|f| f.pk);
                pk.is_some_and(|pk| state.delete_flow(pk))
            }
            Route::BindingDetail(id) => {
                py::parse_uuid(&id).is_some_and(|pk| state.delete_binding(pk))
            }
            Route::PolicyBindingDetail(id) => py::parse_uuid(&id).is_some_and(|pk| {
                let found = state.policy_bindings.get(pk).is_some();
                state.delete_policy_bindings(&[pk]);
                found
            }),
            Route::GroupDetail(id) => py::parse_uuid(&id).is_some_and(|pk| state.delete_group(pk)),
            Route::SourceDetail(slug) => {
                let pk = state.source_by_slug(&slug).map(|s| s.pk);
                pk.is_some_and(|pk| state.delete_source(pk))
            }
            _ => false,
        })
    }

    /// Overwrite stored fields of a stage, policy or prompt behind the API's back (no
    /// validation, no event), e.g. `{"deny_message": "x"}` or `{"name": "y"}`.
    pub fn set_fields_quietly(&self, pk: impl Display, fields: &Value) -> bool {
        let Some(pk) = py::parse_uuid(&pk.to_string()) else {
            return false;
        };
        let Some(map) = fields.as_object() else {
            return false;
        };
        self.quietly(|state| {
            let Some(obj) = state.obj(pk).cloned() else {
                return false;
            };
            let mut stored = obj.fields.clone();
            for spec in obj.kind.all_fields() {
                if let Some(v) = map.get(spec.name) {
                    stored.insert(spec.name, v.clone());
                }
            }
            let name = map.get("name").and_then(Value::as_str).map(str::to_string);
            state.update_obj(pk, name, stored)
        })
    }
    /// Create a source (the base `Source` model). Returns the existing source's pk if the
    /// slug is taken.
    pub fn create_source(&self, name: &str, slug: &str) -> Uuid {
        self.quietly(|state| match state.source_by_slug(slug) {
            Some(s) => s.pk,
            None => state.insert_source(name, slug, None),
        })
    }

    /// Create a flow with model defaults (title = name). Returns the existing flow's pk if
    /// the slug is taken.
    pub fn create_flow(&self, name: &str, slug: &str, designation: &str) -> Uuid {
        self.quietly(|state| match state.flow_by_slug(slug) {
            Some(f) => f.pk,
            None => state.insert_flow(FlowData::new(name, slug, name, designation)),
        })
    }

    /// Bind a stage into a flow (what makes the flow appear in the stage's `flow_set`).
    /// `None` if either does not exist.
    pub fn bind_stage(&self, flow: Uuid, stage: Uuid, order: i64) -> Option<Uuid> {
        self.quietly(|state| state.bind(flow, stage, order))
    }

    /// A stage as its kind's endpoint would render it (no auth, no request logged).
    pub fn stage(&self, pk: impl Display) -> Option<Value> {
        let pk = py::parse_uuid(&pk.to_string())?;
        let state = self.read();
        let stage = state.obj(pk)?;
        Some(render::obj(&state, self.profile(), stage).to_value())
    }

    /// All objects of a kind (`password`, `authenticator/totp`, `prompt/prompts`,
    /// `policies/expression`, …), ordered by name.
    pub fn stages(&self, kind: &str) -> Vec<Value> {
        let Some(kind) = Kind::from_slug(kind) else {
            return Vec::new();
        };
        let state = self.read();
        let mut stages: Vec<_> = state
            .table(kind.family())
            .values()
            .filter(|s| s.kind == kind)
            .collect();
        stages.sort_by(|a, b| crate::listing::collate(&a.name, &b.name));
        stages
            .iter()
            .map(|s| render::obj(&state, self.profile(), s).to_value())
            .collect()
    }

    /// A flow as `/flows/instances/<slug>/` would render it.
    pub fn flow(&self, slug: &str) -> Option<Value> {
        let state = self.read();
        let flow = state.flow_by_slug(slug)?;
        Some(render::flow(&state, self.profile(), flow).to_value())
    }

    /// All flows, ordered by slug (the API's default order).
    pub fn flows(&self) -> Vec<Value> {
        let state = self.read();
        let mut flows: Vec<_> = state.flows.values().collect();
        flows.sort_by(|a, b| crate::listing::collate(&a.slug, &b.slug));
        flows
            .iter()
            .map(|f| render::flow(&state, self.profile(), f).to_value())
            .collect()
    }

    /// A flow's bindings as `/flows/bindings/?target=<pk>` renders them (by `order`, then
    /// physical order); empty if there is no such flow.
    pub fn bindings(&self, flow_slug: &str) -> Vec<Value> {
        let state = self.read();
        let Some(flow) = state.flow_by_slug(flow_slug) else {
            return Vec::new();
        };
        let mut bindings: Vec<_> = state.bindings.of_flow(flow.pk).collect();
        bindings.sort_by_key(|b| b.data.order);
        bindings
            .iter()
            .map(|b| render::binding(&state, self.profile(), b, StageClass::Kind).to_value())
            .collect()
    }

    /// How many bindings a flow has (0 if there is no such flow).
    pub fn binding_count(&self, flow_slug: &str) -> usize {
        let state = self.read();
        state
            .flow_by_slug(flow_slug)
            .map_or(0, |f| state.bindings.of_flow(f.pk).count())
    }

    /// A binding as `/flows/bindings/<pk>/` renders it.
    pub fn binding(&self, pk: impl Display) -> Option<Value> {
        let pk = py::parse_uuid(&pk.to_string())?;
        let state = self.read();
        let b = state.bindings.get(pk)?;
        Some(render::binding(&state, self.profile(), b, StageClass::Kind).to_value())
    }

    /// Delete a stage (or policy, or prompt) behind the API's back, with cascades: its
    /// bindings go, references to it become null. No event is written.
    pub fn delete_stage(&self, pk: impl Display) -> bool {
        py::parse_uuid(&pk.to_string()).is_some_and(|pk| self.quietly(|s| s.delete_obj(pk)))
    }

    /// Delete a flow behind the API's back, with cascades: its bindings go (the stages stay),
    /// references to it become null. No event is written.
    pub fn delete_flow(&self, slug: &str) -> bool {
        self.quietly(|state| {
            let pk = state.flow_by_slug(slug).map(|f| f.pk);
            pk.is_some_and(|pk| state.delete_flow(pk))
        })
    }

    /// Delete a binding behind the API's back (the policy bindings on it go too).
    pub fn delete_binding(&self, pk: impl Display) -> bool {
        py::parse_uuid(&pk.to_string()).is_some_and(|pk| self.quietly(|s| s.delete_binding(pk)))
    }
}
