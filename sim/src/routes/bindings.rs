//! `/flows/bindings/`: flow-stage bindings by pk (list, create, retrieve, PUT, PATCH, DELETE,
//! `used_by`).

use serde_json::Value;
use uuid::Uuid;

use super::objects::write_error;
use super::{Ctx, not_found};
use crate::bindings::Binding;
use crate::errors::Reply;
use crate::listing::{self, BINDING_FILTERS, ListSpec};
use crate::py;
use crate::render::{self, StageClass};
use crate::serializers::{self, Mode};
use crate::state::State;

/// A binding field as list filters, search and ordering see it.
fn field(state: &State, b: &Binding, name: &str) -> Value {
    let s = |v: &str| Value::String(v.to_string());
    let d = &b.data;
    match name {
        "pk" => s(&b.pk.to_string()),
        "pbm_uuid" => s(&b.pbm.to_string()),
        "target" => s(&d.target.to_string()),
        "stage" => s(&d.stage.to_string()),
        "stage__name" => state
            .stages
            .get(&d.stage)
            .map_or(Value::Null, |st| s(&st.name)),
        "evaluate_on_plan" => Value::Bool(d.evaluate_on_plan),
        "re_evaluate_policies" => Value::Bool(d.re_evaluate_policies),
        "order" => Value::from(d.order),
        "policy_engine_mode" => s(&d.policy_engine_mode),
        "invalid_response_action" => s(&d.invalid_response_action),
        _ => Value::Null,
    }
}

fn lookup(ctx: &Ctx<'_>, state: &State, id: &str) -> Result<Uuid, Reply> {
    let pk = py::parse_uuid(id).ok_or_else(not_found)?;
    match state.bindings.get(pk) {
        Some(_) => Ok(pk),
        None => Err(ctx.not_found("FlowStageBinding")),
    }
}

fn render(ctx: &Ctx<'_>, state: &State, pk: Uuid, status: u16, class: StageClass) -> Reply {
    match state.bindings.get(pk) {
        Some(b) => Reply::json(status, render::binding(state, ctx.profile, b, class)),
        None => Reply::server_error(),
    }
}

pub(super) fn list(ctx: &Ctx<'_>) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    // A known `target` narrows the candidates through the index instead of a scan; the
    // filter itself still runs (and reports a bad value) in `listing::list`.
    let target = ctx
        .query
        .get("target")
        .and_then(py::parse_uuid)
        .filter(|f| state.flows.contains_key(f));
    let items: Vec<&Binding> = match target {
        Some(flow) => state.bindings.of_flow(flow).collect(),
        None => state.bindings.iter().collect(),
    };
    let spec = ListSpec {
        filters: BINDING_FILTERS.iter().collect(),
        search_fields: &["stage__name"],
        ordering_fields: vec!["order", "stage__name"],
        default_ordering: &["order"],
        tiebreak: &[],
    };
    let state_ref: &State = &state;
    listing::list(
        state_ref,
        profile,
        &ctx.query,
        items,
        &spec,
        |b, n| field(state_ref, b, n),
        |b| render::binding(state_ref, profile, b, StageClass::Kind),
    )
    .unwrap_or_else(|e| e)
}

pub(super) fn create(ctx: &Ctx<'_>) -> Reply {
    let data = match ctx.data() {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut state = ctx.write();
    let write = match serializers::binding(&state, ctx.profile, &data, Mode::Create, None) {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    let pk = state.insert_binding(write.data);
    // The create always sets `stage`: the new binding holds a plain `Stage` row.
    render(ctx, &state, pk, 201, StageClass::Base)
}

pub(super) fn retrieve(ctx: &Ctx<'_>, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, id) {
        Ok(pk) => render(ctx, &state, pk, 200, StageClass::Kind),
        Err(r) => r,
    }
}

/// PUT (`partial` false) and PATCH.
pub(super) fn update(ctx: &Ctx<'_>, id: &str, partial: bool) -> Reply {
    // The object is looked up before the body is parsed: a 404 wins over a 400/415.
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
        let instance = state.bindings.get(pk);
        serializers::binding(&state, ctx.profile, &data, mode, instance)
    };
    let write = match write {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    let class = if write.stage_sent {
        StageClass::Base
    } else {
        StageClass::Kind
    };
    state.update_binding(pk, write.data);
    render(ctx, &state, pk, 200, class)
}

pub(super) fn destroy(ctx: &Ctx<'_>, id: &str) -> Reply {
    let mut state = ctx.write();
    match lookup(ctx, &state, id) {
        Ok(pk) => {
            state.delete_binding(pk);
            Reply::no_content()
        }
        Err(r) => r,
    }
}

/// The policy bindings on a flow-stage binding would go with it.
pub(super) fn used_by(ctx: &Ctx<'_>, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, id).map(|pk| state.bindings.get(pk).map(|b| b.pbm)) {
        Ok(Some(pbm)) => Reply::json(200, render::used_by_binding(&state, ctx.profile, pbm)),
        Ok(None) => not_found(),
        Err(r) => r,
    }
}
