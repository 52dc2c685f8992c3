//! The simulated `/api/v3/` API: URL routing, authentication, method checks and request
//! bodies, in the order Django and DRF apply them, then the handlers per resource.

mod admin;
mod all;
mod bindings;
mod core;
mod events;
mod flows;
mod objects;
mod policy_bindings;
mod route;
mod sources;

pub use route::Route;

use std::sync::RwLockWriteGuard;

use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::control::Control;
use crate::errors::Reply;
use crate::events::RequestInfo;
use crate::options;
use crate::profile::Profile;
use crate::query::Query;
use crate::state::{State, User};
use crate::{py, pyjson};

/// The outcome of authentik's `TokenAuthentication`.
enum Auth {
    Ok(User),
    Anonymous,
    Failed(&'static str),
}

fn authenticate(headers: &HeaderMap, control: &Control) -> Auth {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Auth::Anonymous;
    };
    let text = String::from_utf8_lossy(raw.as_bytes());
    let text = py::strip(&text);
    // validate_auth(): no space means no credentials at all.
    let Some((scheme, credentials)) = text.split_once(' ') else {
        return Auth::Anonymous;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return if control.profile().rejects_non_bearer() {
            Auth::Failed("Unsupported authentication type")
        } else {
            Auth::Anonymous
        };
    }
    match control.user_of_token(credentials) {
        Some(u) => Auth::Ok(u),
        None => Auth::Failed("Token invalid/expired"),
    }
}

/// What a handler gets.
pub(crate) struct Ctx<'a> {
    pub control: &'a Control,
    pub profile: Profile,
    pub query: Query,
    pub request: RequestInfo,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

/// A write transaction: the state, locked; the changes made through it become model events
/// of this request when it ends.
pub(crate) struct Tx<'a> {
    guard: RwLockWriteGuard<'a, State>,
    ctx: &'a Ctx<'a>,
}

impl std::ops::Deref for Tx<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.guard
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.guard
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        let changes = std::mem::take(&mut self.guard.changes);
        if !changes.is_empty() {
            self.ctx
                .control
                .record_changes(changes, &self.ctx.request, self.ctx.profile);
        }
    }
}

impl<'a> Ctx<'a> {
    /// Lock the state for a write whose changes the event log records.
    pub fn write(&'a self) -> Tx<'a> {
        Tx {
            guard: self.control.write(),
            ctx: self,
        }
    }

    /// `request.data`: DRF's content negotiation and JSON parsing.
    pub fn data(&self) -> Result<Value, Reply> {
        // An empty body is an empty dict, whatever the content type.
        if self.body.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        let ctype = self
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !is_json(&ctype) {
            return Err(Reply::detail(
                415,
                format!("Unsupported media type \"{ctype}\" in request."),
            ));
        }
        pyjson::parse_body(self.body, self.profile.json_trailing_comma_message()).map_err(|e| {
            match e {
                pyjson::BodyError::Parse(msg) => {
                    Reply::detail(400, format!("JSON parse error - {msg}"))
                }
                pyjson::BodyError::TooDeep => Reply::server_error(),
            }
        })
    }

    /// 404 for a lookup that found nothing.
    pub fn not_found(&self, model: &str) -> Reply {
        if self.profile.model_not_found_message() {
            Reply::detail(404, format!("No {model} matches the given query."))
        } else {
            not_found()
        }
    }
}

/// 404 "Not found." (also for malformed UUIDs on every release).
pub fn not_found() -> Reply {
    Reply::detail(404, "Not found.")
}

/// Whether a Content-Type selects DRF's JSON parser (`application/json`, wildcards allowed).
fn is_json(ctype: &str) -> bool {
    let media = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((main, sub)) = media.split_once('/') else {
        return false;
    };
    (main == "application" || main == "*") && (sub == "json" || sub == "*")
}

/// Answer one API request; `api_path` is the path after `/api/v3/`.
pub(crate) fn handle(
    control: &Control,
    method: &str,
    api_path: &str,
    route: Option<&Route>,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let profile = control.profile();
    // A kind the release does not have has no URL at all.
    let Some(route) = route.filter(|r| r.kind().is_none_or(|k| k.available(profile))) else {
        return Reply::unrouted(method);
    };
    let user = match authenticate(headers, control) {
        Auth::Ok(u) => u,
        Auth::Failed(msg) => return Reply::detail(403, msg),
        Auth::Anonymous => {
            let msg = if route.is_detail() && profile.anonymous_detail_is_permission_denied() {
                "You do not have permission to perform this action."
            } else {
                "Authentication credentials were not provided."
            };
            return Reply::detail(403, msg);
        }
    };
    let method = if method == "HEAD" { "GET" } else { method };
    if method == "OPTIONS" {
        return options::answer(route, profile, route.allowed());
    }
    if !route.allowed().contains(&method) {
        return Reply::method_not_allowed(method, route.allowed());
    }
    let query = Query::parse(query);
    let request = RequestInfo::new(method, api_path, &query, headers, user);
    let ctx = Ctx {
        control,
        profile,
        query,
        request,
        headers,
        body,
    };
    dispatch(&ctx, route, method)
}

fn dispatch(ctx: &Ctx<'_>, route: &Route, method: &str) -> Reply {
    let get = method == "GET";
    let partial = method == "PATCH";
    match route {
        Route::KindList(kind) if get => objects::list(ctx, *kind),
        Route::KindList(kind) => objects::create(ctx, *kind),
        Route::KindDetail(kind, id) => match method {
            "GET" => objects::retrieve(ctx, *kind, id),
            "DELETE" => objects::destroy(ctx, kind.family(), Some(*kind), id),
            _ => objects::update(ctx, *kind, id, partial),
        },
        Route::KindUsedBy(kind, id) => objects::used_by(ctx, kind.family(), Some(*kind), id),
        Route::AllList(family) => all::list(ctx, *family),
        Route::AllTypes(family) => all::types(ctx, *family),
        Route::AllDetail(family, id) if get => all::retrieve(ctx, *family, id),
        Route::AllDetail(family, id) => objects::destroy(ctx, *family, None, id),
        Route::AllUsedBy(family, id) => objects::used_by(ctx, *family, None, id),
        Route::FlowList if get => flows::list(ctx),
        Route::FlowList => flows::create(ctx),
        Route::FlowDetail(slug) => match method {
            "GET" => flows::retrieve(ctx, slug),
            "DELETE" => flows::destroy(ctx, slug),
            _ => flows::update(ctx, slug, partial),
        },
        Route::BindingList if get => bindings::list(ctx),
        Route::BindingList => bindings::create(ctx),
        Route::BindingDetail(id) => match method {
            "GET" => bindings::retrieve(ctx, id),
            "DELETE" => bindings::destroy(ctx, id),
            _ => bindings::update(ctx, id, partial),
        },
        Route::BindingUsedBy(id) => bindings::used_by(ctx, id),
        Route::PolicyBindingList if get => policy_bindings::list(ctx),
        Route::PolicyBindingList => policy_bindings::create(ctx),
        Route::PolicyBindingDetail(id) => match method {
            "GET" => policy_bindings::retrieve(ctx, id),
            "DELETE" => policy_bindings::destroy(ctx, id),
            _ => policy_bindings::update(ctx, id, partial),
        },
        Route::PolicyBindingUsedBy(id) => policy_bindings::used_by(ctx, id),
        Route::GroupList if get => core::groups(ctx),
        Route::GroupList => core::create_group(ctx),
        Route::GroupDetail(id) => match method {
            "GET" => core::group(ctx, id),
            "DELETE" => core::delete_group(ctx, id),
            _ => core::update_group(ctx, id, partial),
        },
        Route::UserList => core::users(ctx),
        Route::EventList => events::list(ctx),
        Route::SourceList => sources::list(ctx),
        Route::SourceDetail(slug) if get => sources::retrieve(ctx, slug),
        Route::SourceDetail(slug) => sources::destroy(ctx, slug),
        Route::Version => admin::version(ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
