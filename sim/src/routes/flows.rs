//! `/flows/instances/`: list (filters `slug`, `designation`, …), create, and retrieve,
//! update and delete by slug.

use serde_json::Value;

use super::Ctx;
use super::objects::write_error;
use crate::errors::Reply;
use crate::listing::{self, FLOW_FILTERS, ListSpec};
use crate::render;
use crate::serializers::{self, Mode};
use crate::state::{Flow, FlowData};

fn field(f: &Flow, name: &str) -> Value {
    let s = |v: &str| Value::String(v.to_string());
    match name {
        "pk" => s(&f.pk.to_string()),
        "policybindingmodel_ptr_id" => s(&f.pbm.to_string()),
        "name" => s(&f.name),
        "slug" => s(&f.slug),
        "title" => s(&f.title),
        "designation" => s(&f.designation),
        "policy_engine_mode" => s(&f.policy_engine_mode),
        "compatibility_mode" => Value::Bool(f.compatibility_mode),
        "layout" => s(&f.layout),
        "denied_action" => s(&f.denied_action),
        "authentication" => s(&f.authentication),
        _ => Value::Null,
    }
}

pub(super) fn list(ctx: &Ctx<'_>) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    let mut items: Vec<&Flow> = state.flows.values().collect();
    items.sort_by_key(|f| f.seq);
    let spec = ListSpec {
        filters: FLOW_FILTERS.iter().collect(),
        search_fields: &["name", "slug", "designation", "title"],
        ordering_fields: vec![
            "pk",
            "policybindingmodel_ptr_id",
            "name",
            "slug",
            "title",
            "designation",
            "policy_engine_mode",
            "compatibility_mode",
            "layout",
            "denied_action",
            "authentication",
        ],
        default_ordering: &["slug"],
        tiebreak: &[],
    };
    let render = |f: &&Flow| render::flow(&state, profile, f);
    listing::list(
        &state,
        profile,
        &ctx.query,
        items,
        &spec,
        |f, n| field(f, n),
        render,
    )
    .unwrap_or_else(|e| e)
}

pub(super) fn create(ctx: &Ctx<'_>) -> Reply {
    let data = match ctx.data() {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut state = ctx.write();
    let write = match serializers::flow(&state, ctx.profile, &data, Mode::Create, None, false) {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    let mut flow = FlowData::new("", "", "", "");
    write.apply(&mut flow);
    let pk = state.insert_flow(flow);
    match state.flows.get(&pk) {
        Some(f) => Reply::json(201, render::flow(&state, ctx.profile, f)),
        None => Reply::server_error(),
    }
}

pub(super) fn retrieve(ctx: &Ctx<'_>, slug: &str) -> Reply {
    let state = ctx.control.read();
    match state.flow_by_slug(slug) {
        Some(f) => Reply::json(200, render::flow(&state, ctx.profile, f)),
        None => ctx.not_found("Flow"),
    }
}

pub(super) fn update(ctx: &Ctx<'_>, slug: &str, partial: bool) -> Reply {
    let data = ctx.data();
    let mut state = ctx.write();
    let Some(pk) = state.flow_by_slug(slug).map(|f| f.pk) else {
        return ctx.not_found("Flow");
    };
    let data = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mode = if partial { Mode::Partial } else { Mode::Update };
    let write = match serializers::flow(&state, ctx.profile, &data, mode, Some(pk), false) {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    let Some(mut values) = state.flows.get(&pk).map(FlowData::of) else {
        return ctx.not_found("Flow");
    };
    write.apply(&mut values);
    state.update_flow(pk, values);
    match state.flows.get(&pk) {
        Some(f) => Reply::json(200, render::flow(&state, ctx.profile, f)),
        None => ctx.not_found("Flow"),
    }
}

pub(super) fn destroy(ctx: &Ctx<'_>, slug: &str) -> Reply {
    let mut state = ctx.write();
    match state.flow_by_slug(slug).map(|f| f.pk) {
        Some(pk) => {
            state.delete_flow(pk);
            Reply::no_content()
        }
        None => ctx.not_found("Flow"),
    }
}
