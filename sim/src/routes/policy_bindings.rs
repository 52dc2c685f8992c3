//! `/policies/bindings/`: policy bindings by pk (list, create, retrieve, PUT, PATCH, DELETE,
//! `used_by`).

use serde_json::Value;
use uuid::Uuid;

use super::objects::write_error;
use super::{Ctx, not_found};
use crate::errors::Reply;
use crate::listing::{self, ListSpec, POLICY_BINDING_FILTERS};
use crate::out::Out;
use crate::policy_bindings::PolicyBinding;
use crate::py;
use crate::render;
use crate::serializers::{self, Mode};
use crate::state::State;

/// A binding field as list filters, search and ordering see it (`target` is the
/// policy-binding-model id, as the database stores it).
fn field(state: &State, b: &PolicyBinding, name: &str) -> Value {
    let s = |v: &str| Value::String(v.to_string());
    let uuid = |u: Option<Uuid>| u.map_or(Value::Null, |u| s(&u.to_string()));
    let d = &b.data;
    match name {
        "pk" => s(&b.pk.to_string()),
        "policy" => uuid(d.policy),
        "policy__isnull" => Value::Bool(d.policy.is_none()),
        "policy__name" => d
            .policy
            .and_then(|p| state.policies.get(&p))
            .map_or(Value::Null, |p| s(&p.name)),
        "group" => uuid(d.group),
        "user" => d.user.map_or(Value::Null, Value::from),
        "target" | "target_in" => s(&d.target.to_string()),
        "negate" => Value::Bool(d.negate),
        "enabled" => Value::Bool(d.enabled),
        "order" => Value::from(d.order),
        "timeout" => Value::from(d.timeout),
        "failure_result" => Value::Bool(d.failure_result),
        _ => Value::Null,
    }
}

fn lookup(ctx: &Ctx<'_>, state: &State, id: &str) -> Result<Uuid, Reply> {
    let pk = py::parse_uuid(id).ok_or_else(not_found)?;
    match state.policy_bindings.get(pk) {
        Some(_) => Ok(pk),
        None => Err(ctx.not_found("PolicyBinding")),
    }
}

fn render(ctx: &Ctx<'_>, state: &State, pk: Uuid, status: u16) -> Reply {
    match state.policy_bindings.get(pk) {
        Some(b) => Reply::json(status, render::policy_binding(state, ctx.profile, b)),
        None => Reply::server_error(),
    }
}

pub(super) fn list(ctx: &Ctx<'_>) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    let items = state.policy_bindings.iter();
    let by_order = profile.policy_bindings_by_order();
    let spec = ListSpec {
        filters: POLICY_BINDING_FILTERS.iter().collect(),
        search_fields: &["policy__name"],
        ordering_fields: vec![
            "pk",
            "policy",
            "group",
            "user",
            "target",
            "negate",
            "enabled",
            "order",
            "timeout",
            "failure_result",
        ],
        default_ordering: if by_order {
            &["order", "pk"]
        } else {
            &["target", "order"]
        },
        // Observed on current releases: rows with equal keys come in pk order.
        tiebreak: if by_order { &["pk"] } else { &[] },
    };
    let state_ref: &State = &state;
    listing::list(
        state_ref,
        profile,
        &ctx.query,
        items,
        &spec,
        |b, n| field(state_ref, b, n),
        |b| render::policy_binding(state_ref, profile, b),
    )
    .unwrap_or_else(|e| e)
}

pub(super) fn create(ctx: &Ctx<'_>) -> Reply {
    let data = match ctx.data() {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut state = ctx.write();
    let write = match serializers::policy_binding(&state, ctx.profile, &data, Mode::Create, None) {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    let pk = state.insert_policy_binding(None, write.data);
    render(ctx, &state, pk, 201)
}

pub(super) fn retrieve(ctx: &Ctx<'_>, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, id) {
        Ok(pk) => render(ctx, &state, pk, 200),
        Err(r) => r,
    }
}

/// PUT (`partial` false) and PATCH.
pub(super) fn update(ctx: &Ctx<'_>, id: &str, partial: bool) -> Reply {
    let data = ctx.data();
    let mut state = ctx.write();
    let pk = match lookup(ctx, &state, id) {
        Ok(pk) => pk,
        Err(r) => return r,
    };
    let data = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mode = if partial { Mode::Partial } else { Mode::Update };
    let write = {
        let instance = state.policy_bindings.get(pk);
        serializers::policy_binding(&state, ctx.profile, &data, mode, instance)
    };
    match write {
        Ok(w) => {
            state.update_policy_binding(pk, w.data);
            render(ctx, &state, pk, 200)
        }
        Err(e) => write_error(e),
    }
}

pub(super) fn destroy(ctx: &Ctx<'_>, id: &str) -> Reply {
    let mut state = ctx.write();
    match lookup(ctx, &state, id) {
        Ok(pk) => {
            state.delete_policy_bindings(&[pk]);
            Reply::no_content()
        }
        Err(r) => r,
    }
}

/// Nothing refers to a policy binding.
pub(super) fn used_by(ctx: &Ctx<'_>, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, id) {
        Ok(_) => Reply::json(200, Out::Arr(Vec::new())),
        Err(r) => r,
    }
}
