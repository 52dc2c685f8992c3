//! `/stages/all/`: every stage kind, rendered with the generic stage fields only.

use super::Ctx;
use super::stages::{field, lookup};
use crate::errors::Reply;
use crate::listing::{self, ALL_STAGES_FILTERS, ListSpec};
use crate::render;
use crate::state::Stage;

pub(super) fn list(ctx: &Ctx<'_>) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    let mut items: Vec<&Stage> = state.stages.values().collect();
    items.sort_by_key(|s| s.seq);
    // This view declares no default ordering: the database order (creation order here).
    let spec = ListSpec {
        filters: ALL_STAGES_FILTERS.iter().collect(),
        search_fields: &["name"],
        ordering_fields: vec!["pk", "name", "flow_set"],
        default_ordering: &[],
    };
    let render = |s: &&Stage| render::stage_generic(&state, profile, s);
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

pub(super) fn retrieve(ctx: &Ctx<'_>, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, None, id) {
        Ok(pk) => match state.stages.get(&pk) {
            Some(stage) => Reply::json(200, render::stage_generic(&state, ctx.profile, stage)),
            None => super::not_found(),
        },
        Err(r) => r,
    }
}
