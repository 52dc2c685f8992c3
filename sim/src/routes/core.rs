//! `/core/groups/` (list, create, retrieve, PUT, PATCH, DELETE) and a minimal
//! `/core/users/` list: what stages and policy bindings refer to.

use serde_json::Value;
use uuid::Uuid;

use super::{Ctx, not_found};
use crate::errors::Reply;
use crate::listing::{self, GROUP_FILTERS, ListSpec, USER_FILTERS};
use crate::out::Out;
use crate::py;
use crate::render;
use crate::state::{Group, State, User};
use crate::validate::{self as v, FieldErr};

fn group_field(g: &Group, name: &str) -> Value {
    match name {
        "pk" => Value::String(g.pk.to_string()),
        "num_pk" => Value::from(g.num_pk),
        "name" => Value::String(g.name.clone()),
        "is_superuser" => Value::Bool(g.is_superuser),
        _ => Value::Null,
    }
}

pub(super) fn groups(ctx: &Ctx<'_>) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    let mut items: Vec<&Group> = state.groups.values().collect();
    items.sort_by_key(|g| g.seq);
    let spec = ListSpec {
        filters: GROUP_FILTERS.iter().collect(),
        search_fields: &["name"],
        ordering_fields: vec!["pk", "num_pk", "name", "is_superuser"],
        default_ordering: &["name"],
        tiebreak: &[],
    };
    listing::list(
        &state,
        profile,
        &ctx.query,
        items,
        &spec,
        |g, f| group_field(g, f),
        |g| render::group(profile, g),
    )
    .unwrap_or_else(|e| e)
}

fn lookup(ctx: &Ctx<'_>, state: &State, id: &str) -> Result<Uuid, Reply> {
    let pk = py::parse_uuid(id).ok_or_else(not_found)?;
    if state.groups.contains_key(&pk) {
        Ok(pk)
    } else {
        Err(ctx.not_found("Group"))
    }
}

/// The sent group fields: `name` (unique), `is_superuser`, `attributes`.
type GroupWrite = (Option<String>, Option<bool>, Option<Value>);

fn validate(
    state: &State,
    data: &Value,
    partial: bool,
    instance: Option<Uuid>,
) -> Result<GroupWrite, Reply> {
    let Value::Object(body) = data else {
        return Err(Reply::json(
            400,
            Out::obj([(
                "non_field_errors",
                Out::strings([format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    py::type_name(data)
                )]),
            )]),
        ));
    };
    let mut errors: Vec<(String, Out)> = Vec::new();
    let mut add = |k: &str, e: FieldErr| {
        if let Some(o) = e.to_out() {
            errors.push((k.to_string(), o));
        }
    };
    let name = match body.get("name") {
        None if !partial => {
            add("name", FieldErr::msg(v::REQUIRED));
            None
        }
        None => None,
        Some(raw) => match v::text(raw, |s| {
            if state
                .groups
                .values()
                .any(|g| g.name == s && Some(g.pk) != instance)
            {
                vec!["group with this name already exists.".into()]
            } else {
                vec![]
            }
        }) {
            Ok(s) => Some(s),
            Err(e) => {
                add("name", e);
                None
            }
        },
    };
    let superuser = match body.get("is_superuser").map(v::boolean) {
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => {
            add("is_superuser", e);
            None
        }
        None => None,
    };
    let attributes = match body.get("attributes") {
        Some(Value::Object(m)) => Some(Value::Object(m.clone())),
        Some(_) => {
            add("attributes", FieldErr::msg("Value must be valid JSON."));
            None
        }
        None => None,
    };
    if errors.is_empty() {
        Ok((name, superuser, attributes))
    } else {
        Err(Reply::json(400, Out::Obj(errors)))
    }
}

pub(super) fn create_group(ctx: &Ctx<'_>) -> Reply {
    let data = match ctx.data() {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut state = ctx.write();
    let (name, superuser, attributes) = match validate(&state, &data, false, None) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let pk = state.insert_group(&name.unwrap_or_default());
    if let Some(g) = state.groups.get_mut(&pk) {
        g.is_superuser = superuser.unwrap_or(false);
        if let Some(a) = attributes {
            g.attributes = a;
        }
    }
    match state.groups.get(&pk) {
        Some(g) => Reply::json(201, render::group(ctx.profile, g)),
        None => Reply::server_error(),
    }
}

pub(super) fn group(ctx: &Ctx<'_>, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, id) {
        Ok(pk) => match state.groups.get(&pk) {
            Some(g) => Reply::json(200, render::group(ctx.profile, g)),
            None => not_found(),
        },
        Err(r) => r,
    }
}

pub(super) fn update_group(ctx: &Ctx<'_>, id: &str, partial: bool) -> Reply {
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
    let (name, superuser, attributes) = match validate(&state, &data, partial, Some(pk)) {
        Ok(v) => v,
        Err(r) => return r,
    };
    state.update_group(pk, name, superuser, attributes);
    match state.groups.get(&pk) {
        Some(g) => Reply::json(200, render::group(ctx.profile, g)),
        None => not_found(),
    }
}

pub(super) fn delete_group(ctx: &Ctx<'_>, id: &str) -> Reply {
    let mut state = ctx.write();
    match lookup(ctx, &state, id) {
        Ok(pk) => {
            state.delete_group(pk);
            Reply::no_content()
        }
        Err(r) => r,
    }
}

fn user_field(u: &User, name: &str) -> Value {
    match name {
        "pk" => Value::from(u.pk),
        "username" => Value::String(u.username.clone()),
        "name" => Value::String(u.name.clone()),
        "email" => Value::String(u.email.clone()),
        "uuid" => Value::String(u.uuid.to_string()),
        _ => Value::Null,
    }
}

pub(super) fn users(ctx: &Ctx<'_>) -> Reply {
    let state = ctx.control.read();
    let items: Vec<&User> = state.users.iter().collect();
    let spec = ListSpec {
        filters: USER_FILTERS.iter().collect(),
        search_fields: &["username", "name", "email"],
        ordering_fields: vec!["pk", "username", "name", "email"],
        default_ordering: &["username"],
        tiebreak: &[],
    };
    listing::list(
        &state,
        ctx.profile,
        &ctx.query,
        items,
        &spec,
        |u, f| user_field(u, f),
        |u| render::user(u),
    )
    .unwrap_or_else(|e| e)
}
