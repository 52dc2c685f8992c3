//! `/sources/all/`: list (with the `slug` filter), retrieve and delete by slug. Sources are
//! created through the control interface.

use serde_json::Value;

use super::Ctx;
use crate::errors::Reply;
use crate::listing::{self, ListSpec, SOURCE_FILTERS};
use crate::render;
use crate::state::Source;

fn field(s: &Source, f: &str) -> Value {
    match f {
        "pk" => Value::String(s.pk.to_string()),
        "name" => Value::String(s.name.clone()),
        "slug" => Value::String(s.slug.clone()),
        "enabled" => Value::Bool(s.enabled),
        "managed" => s.managed.clone().map_or(Value::Null, Value::String),
        _ => Value::Null,
    }
}

pub(super) fn list(ctx: &Ctx<'_>) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    let mut items: Vec<&Source> = state.sources.values().collect();
    items.sort_by_key(|s| s.seq);
    let spec = ListSpec {
        filters: SOURCE_FILTERS.iter().collect(),
        search_fields: &["slug", "name"],
        ordering_fields: vec!["pk", "name", "slug", "enabled", "managed"],
        default_ordering: &["name"],
        tiebreak: &[],
    };
    let render = |s: &&Source| render::source(profile, s);
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

pub(super) fn retrieve(ctx: &Ctx<'_>, slug: &str) -> Reply {
    let state = ctx.control.read();
    match state.source_by_slug(slug) {
        Some(s) => Reply::json(200, render::source(ctx.profile, s)),
        None => ctx.not_found("Source"),
    }
}

pub(super) fn destroy(ctx: &Ctx<'_>, slug: &str) -> Reply {
    let mut state = ctx.write();
    match state.source_by_slug(slug).map(|s| s.pk) {
        Some(pk) => {
            state.delete_source(pk);
            Reply::no_content()
        }
        None => ctx.not_found("Source"),
    }
}
