//! `/<kind path>/` for every table-driven kind (list, create, retrieve, PUT, PATCH, DELETE,
//! `used_by`), and the delete and `used_by` shared with the families' `all/` endpoints.

use serde_json::Value;
use uuid::Uuid;

use super::{Ctx, not_found};
use crate::errors::Reply;
use crate::listing::{self, ListSpec};
use crate::model::{Family, Kind};
use crate::serializers::{self, Mode, WriteError};
use crate::state::{Obj, State};
use crate::{py, render};

/// An object field as list filters, search and ordering see it.
pub(super) fn field(s: &Obj, f: &str) -> Value {
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

/// `get_object()`: a malformed pk is "Not found."; an object of another kind does not exist
/// for this endpoint.
pub(super) fn lookup(
    ctx: &Ctx<'_>,
    state: &State,
    family: Family,
    kind: Option<Kind>,
    id: &str,
) -> Result<Uuid, Reply> {
    let pk = py::parse_uuid(id).ok_or_else(not_found)?;
    match state.table(family).get(&pk) {
        Some(s) if kind.is_none_or(|k| k == s.kind) => Ok(pk),
        _ => Err(ctx.not_found(kind.map_or(family.class(), Kind::model))),
    }
}

pub(super) fn list(ctx: &Ctx<'_>, kind: Kind) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    let mut items: Vec<&Obj> = state
        .table(kind.family())
        .values()
        .filter(|s| s.kind == kind)
        .collect();
    items.sort_by_key(|s| s.seq);
    let mut ordering = vec!["pk", "name"];
    if kind.family() == Family::Stage {
        ordering.push("flow_set");
    }
    ordering.extend(
        kind.fields(profile)
            .filter(|f| f.writable() && f.readable())
            .map(|f| f.name),
    );
    let spec = ListSpec {
        filters: kind.filters(profile).collect(),
        search_fields: kind.spec().search,
        ordering_fields: ordering,
        default_ordering: kind.spec().ordering,
        tiebreak: &[],
    };
    let render = |s: &&Obj| render::obj(&state, profile, s);
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
    let mut state = ctx.write();
    let write = match serializers::object(&state, ctx.profile, kind, &data, Mode::Create, None) {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    let fields = serializers::with_defaults(kind, ctx.profile, write.fields);
    let pk = state.insert_obj(kind, None, write.name.unwrap_or_default(), fields);
    match state.obj(pk) {
        Some(o) => Reply::json(201, render::obj(&state, ctx.profile, o)),
        None => Reply::server_error(),
    }
}

pub(super) fn retrieve(ctx: &Ctx<'_>, kind: Kind, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, kind.family(), Some(kind), id) {
        Ok(pk) => match state.obj(pk) {
            Some(o) => Reply::json(200, render::obj(&state, ctx.profile, o)),
            None => not_found(),
        },
        Err(r) => r,
    }
}

/// PUT (`partial` false) and PATCH.
pub(super) fn update(ctx: &Ctx<'_>, kind: Kind, id: &str, partial: bool) -> Reply {
    // DRF looks the object up before it parses the body: a 404 wins over a 400/415.
    let data = ctx.data();
    let mut state = ctx.write();
    let pk = match lookup(ctx, &state, kind.family(), Some(kind), id) {
        Ok(pk) => pk,
        Err(r) => return r,
    };
    let data = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mode = if partial { Mode::Partial } else { Mode::Update };
    let write = match serializers::object(&state, ctx.profile, kind, &data, mode, Some(pk)) {
        Ok(w) => w,
        Err(e) => return write_error(e),
    };
    state.update_obj(pk, write.name, write.fields);
    match state.obj(pk) {
        Some(o) => Reply::json(200, render::obj(&state, ctx.profile, o)),
        None => not_found(),
    }
}

/// DELETE on `/<kind path>/<pk>/` (`kind` set) or `/<family>/all/<pk>/`.
pub(super) fn destroy(ctx: &Ctx<'_>, family: Family, kind: Option<Kind>, id: &str) -> Reply {
    let mut state = ctx.write();
    match lookup(ctx, &state, family, kind, id) {
        Ok(pk) => {
            state.delete_obj(pk);
            Reply::no_content()
        }
        Err(r) => r,
    }
}

pub(super) fn used_by(ctx: &Ctx<'_>, family: Family, kind: Option<Kind>, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, family, kind, id) {
        Ok(pk) => match state.obj(pk) {
            Some(o) => Reply::json(200, render::obj_used_by(&state, ctx.profile, o)),
            None => not_found(),
        },
        Err(r) => r,
    }
}
