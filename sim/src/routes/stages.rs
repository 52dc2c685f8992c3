//! `/stages/<kind>/` (and the delete/used_by shared with `/stages/all/`).

use serde_json::Value;
use uuid::Uuid;

use super::{Ctx, not_found};
use crate::errors::Reply;
use crate::listing::{self, ListSpec};
use crate::model::Kind;
use crate::serializers::{self, Mode, WriteError, default_value};
use crate::state::{Stage, State};
use crate::{py, render};

/// A stage field as list filters, search and ordering see it.
pub(super) fn field(s: &Stage, f: &str) -> Value {
    match f {
        "pk" => Value::String(s.pk.to_string()),
        "name" => Value::String(s.name.clone()),
        "flow_set" => Value::Null,
        other => s.fields.get(other).cloned().unwrap_or(Value::Null),
    }
}

/// The answer to a refused write.
pub(super) fn write_error(e: WriteError) -> Reply {
    match e {
        WriteError::Invalid(body) => Reply::json(400, body),
        WriteError::ServerError => Reply::server_error(),
    }
}

/// `get_object()`: a malformed pk is "Not found."; a stage of another kind does not exist
/// for this endpoint.
pub(super) fn lookup(
    ctx: &Ctx<'_>,
    state: &State,
    kind: Option<Kind>,
    id: &str,
) -> Result<Uuid, Reply> {
    let pk = py::parse_uuid(id).ok_or_else(not_found)?;
    match state.stages.get(&pk) {
        Some(s) if kind.is_none_or(|k| k == s.kind) => Ok(pk),
        _ => Err(ctx.not_found(kind.map_or("Stage", Kind::model))),
    }
}

pub(super) fn list(ctx: &Ctx<'_>, kind: Kind) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    let mut items: Vec<&Stage> = state.stages.values().filter(|s| s.kind == kind).collect();
    items.sort_by_key(|s| s.seq);
    let mut ordering = vec!["pk", "name", "flow_set"];
    ordering.extend(kind.fields(profile).map(|f| f.name));
    let spec = ListSpec {
        filters: kind.filters(profile).collect(),
        search_fields: &["name"],
        ordering_fields: ordering,
        default_ordering: &["name"],
    };
    let render = |s: &&Stage| render::stage(&state, profile, s);
    listing::list(
        &state,
        profile,
        &ctx.query,
        items,
        &spec,
        |s, f| field(s, f),
        render,
    )
    .unwrap_or_else(|e| e)
}

pub(super) fn create(ctx: &Ctx<'_>, kind: Kind) -> Reply {
    let data = match ctx.data() {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut state = ctx.control.write();
    let write = match serializers::stage(&state, ctx.profile, kind, &data, Mode::Create, None) {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    // Fields the profile does not have still get their model defaults.
    let mut fields: std::collections::BTreeMap<&'static str, Value> = kind
        .all_fields()
        .iter()
        .map(|f| (f.name, default_value(f.default)))
        .collect();
    fields.extend(write.fields);
    let pk = state.insert_stage(kind, write.name.unwrap_or_default(), fields);
    match state.stages.get(&pk) {
        Some(stage) => Reply::json(201, render::stage(&state, ctx.profile, stage)),
        None => Reply::server_error(),
    }
}

pub(super) fn retrieve(ctx: &Ctx<'_>, kind: Kind, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, Some(kind), id) {
        Ok(pk) => match state.stages.get(&pk) {
            Some(stage) => Reply::json(200, render::stage(&state, ctx.profile, stage)),
            None => not_found(),
        },
        Err(r) => r,
    }
}

/// PUT (`partial` false) and PATCH.
pub(super) fn update(ctx: &Ctx<'_>, kind: Kind, id: &str, partial: bool) -> Reply {
    // DRF looks the object up before it parses the body: a 404 wins over a 400/415.
    let data = ctx.data();
    let mut state = ctx.control.write();
    let pk = match lookup(ctx, &state, Some(kind), id) {
        Ok(pk) => pk,
        Err(r) => return r,
    };
    let data = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mode = if partial { Mode::Partial } else { Mode::Update };
    let write = match serializers::stage(&state, ctx.profile, kind, &data, mode, Some(pk)) {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    let Some(stage) = state.stages.get_mut(&pk) else {
        return not_found();
    };
    if let Some(name) = write.name {
        stage.name = name;
    }
    stage.fields.extend(write.fields);
    match state.stages.get(&pk) {
        Some(stage) => Reply::json(200, render::stage(&state, ctx.profile, stage)),
        None => not_found(),
    }
}

/// DELETE on `/stages/<kind>/<pk>/` (`kind` set) or `/stages/all/<pk>/`.
pub(super) fn destroy(ctx: &Ctx<'_>, kind: Option<Kind>, id: &str) -> Reply {
    let mut state = ctx.control.write();
    match lookup(ctx, &state, kind, id) {
        Ok(pk) => {
            state.delete_stage(pk);
            Reply::no_content()
        }
        Err(r) => r,
    }
}

pub(super) fn used_by(ctx: &Ctx<'_>, kind: Option<Kind>, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, kind, id) {
        Ok(pk) => match state.stages.get(&pk) {
            Some(stage) => Reply::json(200, render::used_by(&state, ctx.profile, stage)),
            None => not_found(),
        },
        Err(r) => r,
    }
}
