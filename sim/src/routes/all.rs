//! `/stages/all/` (every stage kind, with the generic stage fields only) and
//! `/policies/all/` (every policy kind, each with its own fields), and their `types/`.

use super::Ctx;
use super::objects::{field, lookup};
use crate::errors::Reply;
use crate::listing::{self, ALL_STAGES_FILTERS, ListSpec};
use crate::model::{Family, KINDS};
use crate::out::Out;
use crate::profile::Profile;
use crate::render;
use crate::state::{Obj, State};

/// What a family's `all/` list renders for an object.
fn render_one(state: &State, profile: Profile, o: &Obj) -> Out {
    match o.kind.family() {
        Family::Stage => render::stage_generic(state, profile, o),
        _ => render::obj(state, profile, o),
    }
}

/// BooleanWidget: `true`/`false` (any case) or `1`/`0`; anything else is no filter.
fn flag(ctx: &Ctx<'_>, param: &str) -> Option<bool> {
    match ctx.query.get(param)?.to_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

pub(super) fn list(ctx: &Ctx<'_>, family: Family) -> Reply {
    let state = ctx.control.read();
    let profile = ctx.profile;
    let mut items: Vec<&Obj> = state.table(family).values().collect();
    items.sort_by_key(|s| s.seq);
    let spec = match family {
        // This view declares no default ordering: the database order (creation order here).
        Family::Stage => ListSpec {
            filters: ALL_STAGES_FILTERS.iter().collect(),
            search_fields: &["name"],
            ordering_fields: vec!["pk", "name", "flow_set"],
            default_ordering: &[],
            tiebreak: &[],
        },
        _ => {
            if let Some(unbound) = flag(ctx, "bindings__isnull") {
                items.retain(|p| (state.policy_bindings.count_policy(p.pk) == 0) == unbound);
            }
            if let Some(unused) = flag(ctx, "promptstage__isnull") {
                items.retain(|p| {
                    let used = state.stages.values().any(|s| {
                        s.fields
                            .get("validation_policies")
                            .and_then(|v| v.as_array())
                            .is_some_and(|a| {
                                a.iter().any(|x| x.as_str() == Some(&p.pk.to_string()))
                            })
                    });
                    used != unused
                });
            }
            ListSpec {
                filters: Vec::new(),
                search_fields: &["name"],
                ordering_fields: vec!["pk", "name"],
                default_ordering: &["name"],
                tiebreak: &[],
            }
        }
    };
    listing::list(
        &state,
        profile,
        &ctx.query,
        items,
        &spec,
        |s, f| field(s, f),
        |s| render_one(&state, profile, s),
    )
    .unwrap_or_else(|e| e)
}

pub(super) fn retrieve(ctx: &Ctx<'_>, family: Family, id: &str) -> Reply {
    let state = ctx.control.read();
    match lookup(ctx, &state, family, None, id) {
        Ok(pk) => match state.obj(pk) {
            Some(o) => Reply::json(200, render_one(&state, ctx.profile, o)),
            None => super::not_found(),
        },
        Err(r) => r,
    }
}

/// `types/`: the kinds of the family this release offers (those the simulator models; the
/// descriptions are left empty rather than copied).
pub(super) fn types(ctx: &Ctx<'_>, family: Family) -> Reply {
    let profile = ctx.profile;
    let mut kinds: Vec<_> = KINDS
        .into_iter()
        .filter(|k| k.family() == family && k.available(profile))
        .collect();
    kinds.sort_by_key(|k| k.verbose_name());
    let items = kinds
        .into_iter()
        .map(|k| {
            let mut pairs = vec![
                ("name", Out::str(k.verbose_name())),
                ("description", Out::str("")),
                ("component", Out::str(k.component())),
                ("model_name", Out::str(k.model_name(profile))),
            ];
            if profile == Profile::Current {
                pairs.push(("icon_url", Out::Null));
            }
            if profile >= Profile::V2024_4 {
                pairs.push(("requires_enterprise", Out::Bool(false)));
            }
            if profile == Profile::Current {
                pairs.push(("deprecated", Out::Bool(false)));
            }
            Out::obj(pairs)
        })
        .collect();
    Reply::json(200, Out::Arr(items))
}
