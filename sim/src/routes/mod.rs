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
mod sources;

use std::sync::RwLockWriteGuard;

use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::control::Control;
use crate::errors::Reply;
use crate::events::RequestInfo;
use crate::model::{Family, Kind};
use crate::options;
use crate::profile::Profile;
use crate::query::{Query, percent_decode};
use crate::state::{State, User};
use crate::{py, pyjson};

/// A matched API route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    KindList(Kind),
    KindDetail(Kind, String),
    KindUsedBy(Kind, String),
    AllList(Family),
    AllDetail(Family, String),
    AllUsedBy(Family, String),
    AllTypes(Family),
    FlowList,
    FlowDetail(String),
    BindingList,
    BindingDetail(String),
    BindingUsedBy(String),
    PolicyBindingList,
    PolicyBindingDetail(String),
    PolicyBindingUsedBy(String),
    GroupList,
    GroupDetail(String),
    UserList,
    EventList,
    SourceList,
    SourceDetail(String),
    Version,
}

const LIST_CREATE: &[&str] = &["GET", "POST", "HEAD", "OPTIONS"];
const LIST_ONLY: &[&str] = &["GET", "HEAD", "OPTIONS"];
const DETAIL_RW: &[&str] = &["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const DETAIL_RD: &[&str] = &["GET", "DELETE", "HEAD", "OPTIONS"];

/// The `all/` endpoint of a family.
fn family_of_all(prefix: &str) -> Option<Family> {
    match prefix {
        "stages" => Some(Family::Stage),
        "policies" => Some(Family::Policy),
        _ => None,
    }
}

fn family_prefix(f: Family) -> &'static str {
    match f {
        Family::Policy => "policies",
        _ => "stages",
    }
}

impl Route {
    /// Match a path relative to `/api/v3/` (DRF router patterns: trailing slash required,
    /// lookups are `[^/.]+`).
    pub fn parse(api_path: &str) -> Option<Route> {
        let inner = api_path.strip_suffix('/')?;
        let segs: Vec<String> = inner.split('/').map(|s| percent_decode(s, false)).collect();
        let lookup = |s: &String| (!s.is_empty() && !s.contains('.')).then(|| s.clone());
        let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
        Some(match seg.as_slice() {
            ["sources", "all"] => Route::SourceList,
            ["sources", "all", _] => Route::SourceDetail(lookup(&segs[2])?),
            [fam, "all"] => Route::AllList(family_of_all(fam)?),
            [fam, "all", "types"] => Route::AllTypes(family_of_all(fam)?),
            [fam, "all", _] => Route::AllDetail(family_of_all(fam)?, lookup(&segs[2])?),
            [fam, "all", _, "used_by"] => Route::AllUsedBy(family_of_all(fam)?, lookup(&segs[2])?),
            ["flows", "instances"] => Route::FlowList,
            ["flows", "instances", _] => Route::FlowDetail(lookup(&segs[2])?),
            ["flows", "bindings"] => Route::BindingList,
            ["flows", "bindings", _] => Route::BindingDetail(lookup(&segs[2])?),
            ["flows", "bindings", _, "used_by"] => Route::BindingUsedBy(lookup(&segs[2])?),
            ["policies", "bindings"] => Route::PolicyBindingList,
            ["policies", "bindings", _] => Route::PolicyBindingDetail(lookup(&segs[2])?),
            ["policies", "bindings", _, "used_by"] => Route::PolicyBindingUsedBy(lookup(&segs[2])?),
            ["core", "groups"] => Route::GroupList,
            ["core", "groups", _] => Route::GroupDetail(lookup(&segs[2])?),
            ["core", "users"] => Route::UserList,
            ["events", "events"] => Route::EventList,
            ["admin", "version"] => Route::Version,
            _ => return Route::parse_kind(&seg, &segs),
        })
    }

    /// `<kind path>/`, `<kind path>/<pk>/` and `<kind path>/<pk>/used_by/`.
    fn parse_kind(seg: &[&str], segs: &[String]) -> Option<Route> {
        let lookup = |s: &String| (!s.is_empty() && !s.contains('.')).then(|| s.clone());
        let n = seg.len();
        if let Some(k) = Kind::from_path(&seg.join("/")) {
            return Some(Route::KindList(k));
        }
        if n >= 2
            && let Some(k) = Kind::from_path(&seg[..n - 1].join("/"))
        {
            return Some(Route::KindDetail(k, lookup(&segs[n - 1])?));
        }
        if n >= 3
            && seg[n - 1] == "used_by"
            && let Some(k) = Kind::from_path(&seg[..n - 2].join("/"))
        {
            return Some(Route::KindUsedBy(k, lookup(&segs[n - 2])?));
        }
        None
    }

    /// The route template used as counter key, e.g. `stages/password/{pk}/`.
    pub fn template(&self) -> String {
        match self {
            Route::KindList(k) => format!("{}/", k.path()),
            Route::KindDetail(k, _) => format!("{}/{{pk}}/", k.path()),
            Route::KindUsedBy(k, _) => format!("{}/{{pk}}/used_by/", k.path()),
            Route::AllList(f) => format!("{}/all/", family_prefix(*f)),
            Route::AllTypes(f) => format!("{}/all/types/", family_prefix(*f)),
            Route::AllDetail(f, _) => format!("{}/all/{{pk}}/", family_prefix(*f)),
            Route::AllUsedBy(f, _) => format!("{}/all/{{pk}}/used_by/", family_prefix(*f)),
            Route::FlowList => "flows/instances/".into(),
            Route::FlowDetail(_) => "flows/instances/{slug}/".into(),
            Route::BindingList => "flows/bindings/".into(),
            Route::BindingDetail(_) => "flows/bindings/{pk}/".into(),
            Route::BindingUsedBy(_) => "flows/bindings/{pk}/used_by/".into(),
            Route::PolicyBindingList => "policies/bindings/".into(),
            Route::PolicyBindingDetail(_) => "policies/bindings/{pk}/".into(),
            Route::PolicyBindingUsedBy(_) => "policies/bindings/{pk}/used_by/".into(),
            Route::GroupList => "core/groups/".into(),
            Route::GroupDetail(_) => "core/groups/{pk}/".into(),
            Route::UserList => "core/users/".into(),
            Route::EventList => "events/events/".into(),
            Route::SourceList => "sources/all/".into(),
            Route::SourceDetail(_) => "sources/all/{slug}/".into(),
            Route::Version => "admin/version/".into(),
        }
    }

    fn allowed(&self) -> &'static [&'static str] {
        match self {
            Route::KindList(_)
            | Route::FlowList
            | Route::BindingList
            | Route::PolicyBindingList
            | Route::GroupList => LIST_CREATE,
            Route::KindDetail(..)
            | Route::FlowDetail(_)
            | Route::BindingDetail(_)
            | Route::PolicyBindingDetail(_)
            | Route::GroupDetail(_) => DETAIL_RW,
            Route::AllDetail(..) | Route::SourceDetail(_) => DETAIL_RD,
            Route::KindUsedBy(..)
            | Route::AllUsedBy(..)
            | Route::AllTypes(_)
            | Route::BindingUsedBy(_)
            | Route::PolicyBindingUsedBy(_)
            | Route::AllList(_)
            | Route::SourceList
            | Route::UserList
            | Route::EventList
            | Route::Version => LIST_ONLY,
        }
    }

    /// Routes that look up one object (their anonymous answer differs on newer releases).
    fn is_detail(&self) -> bool {
        matches!(
            self,
            Route::KindDetail(..)
                | Route::KindUsedBy(..)
                | Route::AllDetail(..)
                | Route::AllUsedBy(..)
                | Route::FlowDetail(_)
                | Route::BindingDetail(_)
                | Route::BindingUsedBy(_)
                | Route::PolicyBindingDetail(_)
                | Route::PolicyBindingUsedBy(_)
                | Route::GroupDetail(_)
                | Route::SourceDetail(_)
        )
    }

    /// The kind a route serves, if the release has it.
    fn kind(&self) -> Option<Kind> {
        match self {
            Route::KindList(k) | Route::KindDetail(k, _) | Route::KindUsedBy(k, _) => Some(*k),
            _ => None,
        }
    }
}

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
    fn routing() {
        assert_eq!(
            Route::parse("stages/password/"),
            Some(Route::KindList(Kind::Password))
        );
        assert_eq!(Route::parse("stages/password"), None);
        assert_eq!(
            Route::parse("stages/user_login/x/used_by/"),
            Some(Route::KindUsedBy(Kind::UserLogin, "x".into()))
        );
        assert_eq!(
            Route::parse("stages/all/x/"),
            Some(Route::AllDetail(Family::Stage, "x".into()))
        );
        assert_eq!(
            Route::parse("stages/all/types/"),
            Some(Route::AllTypes(Family::Stage))
        );
        assert_eq!(
            Route::parse("stages/authenticator/totp/x/used_by/"),
            Some(Route::KindUsedBy(Kind::AuthenticatorTotp, "x".into()))
        );
        assert_eq!(
            Route::parse("stages/prompt/prompts/x/"),
            Some(Route::KindDetail(Kind::Prompt, "x".into()))
        );
        assert_eq!(Route::parse("stages/prompt/"), None);
        assert_eq!(
            Route::parse("policies/all/"),
            Some(Route::AllList(Family::Policy))
        );
        assert_eq!(Route::parse("stages/password/a.b/"), None);
        assert_eq!(Route::parse("stages/password//"), None);
        assert_eq!(Route::parse("stages/nope/"), None);
        assert_eq!(
            Route::parse("flows/instances/my-flow/"),
            Some(Route::FlowDetail("my-flow".into()))
        );
        assert_eq!(Route::parse("admin/version/"), Some(Route::Version));
        assert_eq!(Route::parse("flows/bindings/"), Some(Route::BindingList));
        assert_eq!(
            Route::parse("flows/bindings/x/used_by/"),
            Some(Route::BindingUsedBy("x".into()))
        );
        assert_eq!(
            Route::BindingDetail("x".into()).template(),
            "flows/bindings/{pk}/"
        );
        assert_eq!(
            Route::KindDetail(Kind::Password, "x".into()).template(),
            "stages/password/{pk}/"
        );
    }

    #[test]
    fn content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
