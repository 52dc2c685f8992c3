//! `/events/events/`: the event log, newest first, with authentik's filters.

use super::Ctx;
use crate::errors::Reply;
use crate::out::Out;
use crate::pagination;

pub(super) fn list(ctx: &Ctx<'_>) -> Reply {
    let log = ctx.control.event_log();
    if log.forbidden {
        return Reply::detail(403, "You do not have permission to perform this action.");
    }
    let mut items = match log.filter(&ctx.query, ctx.profile) {
        Ok(items) => items,
        Err(body) => return Reply::json(400, body),
    };
    // OrderingFilter over `created`/`action`/`pk`; unknown terms are dropped; the default is
    // newest first.
    let term = ctx
        .query
        .get("ordering")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .find(|t| ["created", "action", "pk"].contains(&t.trim_start_matches('-')))
        .unwrap_or("-created");
    let desc = term.starts_with('-');
    match term.trim_start_matches('-') {
        "action" => items.sort_by_key(|e| e.action),
        "pk" => items.sort_by_key(|e| e.pk),
        _ => items.sort_by_key(|e| e.created),
    }
    if desc {
        items.reverse();
    }
    let (range, page) = match pagination::page(items.len(), &ctx.query, ctx.profile) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let results = items[range]
        .iter()
        .map(|e| log.render(e, ctx.profile))
        .collect();
    let mut body = pagination::body(page, results, ctx.profile);
    if ctx.profile.event_request_id()
        && let Out::Obj(pairs) = &mut body
        && let Some(slot) = pairs.iter_mut().find(|(k, _)| k == "autocomplete")
    {
        slot.1 = crate::events::autocomplete();
    }
    Reply::json(200, body)
}
