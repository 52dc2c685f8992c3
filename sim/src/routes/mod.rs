//! The simulated `/api/v3/` API: URL routing, authentication, method checks and request
//! bodies, in the order Django and DRF apply them, then the handlers per resource.

mod admin;
mod all;
mod bindings;
mod flows;
mod sources;
mod stages;

use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::control::Control;
use crate::errors::Reply;
use crate::model::Kind;
use crate::out::Out;
use crate::profile::Profile;
use crate::query::{Query, percent_decode};
use crate::{py, pyjson};

/// A matched API route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    KindList(Kind),
    KindDetail(Kind, String),
    KindUsedBy(Kind, String),
    AllList,
    AllDetail(String),
    AllUsedBy(String),
    FlowList,
    FlowDetail(String),
    BindingList,
    BindingDetail(String),
    BindingUsedBy(String),
    SourceList,
    SourceDetail(String),
    Version,
}

const LIST_CREATE: &[&str] = &["GET", "POST", "HEAD", "OPTIONS"];
const LIST_ONLY: &[&str] = &["GET", "HEAD", "OPTIONS"];
const DETAIL_RW: &[&str] = &["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const DETAIL_RD: &[&str] = &["GET", "DELETE", "HEAD", "OPTIONS"];

impl Route {
    /// Match a path relative to `/api/v3/` (DRF router patterns: trailing slash required,
    /// lookups are `[^/.]+`).
    pub fn parse(api_path: &str) -> Option<Route> {
        let inner = api_path.strip_suffix('/')?;
        let segs: Vec<String> = inner.split('/').map(|s| percent_decode(s, false)).collect();
        let lookup = |s: &String| (!s.is_empty() && !s.contains('.')).then(|| s.clone());
        let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
        Some(match seg.as_slice() {
            ["stages", "all"] => Route::AllList,
            ["stages", "all", _] => Route::AllDetail(lookup(&segs[2])?),
            ["stages", "all", _, "used_by"] => Route::AllUsedBy(lookup(&segs[2])?),
            ["stages", kind] => Route::KindList(Kind::from_slug(kind)?),
            ["stages", kind, _] => Route::KindDetail(Kind::from_slug(kind)?, lookup(&segs[2])?),
            ["stages", kind, _, "used_by"] => {
                Route::KindUsedBy(Kind::from_slug(kind)?, lookup(&segs[2])?)
            }
            ["flows", "instances"] => Route::FlowList,
            ["flows", "instances", _] => Route::FlowDetail(lookup(&segs[2])?),
            ["flows", "bindings"] => Route::BindingList,
            ["flows", "bindings", _] => Route::BindingDetail(lookup(&segs[2])?),
            ["flows", "bindings", _, "used_by"] => Route::BindingUsedBy(lookup(&segs[2])?),
            ["sources", "all"] => Route::SourceList,
            ["sources", "all", _] => Route::SourceDetail(lookup(&segs[2])?),
            ["admin", "version"] => Route::Version,
            _ => return None,
        })
    }

    /// The route template used as counter key, e.g. `stages/password/{pk}/`.
    pub fn template(&self) -> String {
        match self {
            Route::KindList(k) => format!("stages/{}/", k.slug()),
            Route::KindDetail(k, _) => format!("stages/{}/{{pk}}/", k.slug()),
            Route::KindUsedBy(k, _) => format!("stages/{}/{{pk}}/used_by/", k.slug()),
            Route::AllList => "stages/all/".into(),
            Route::AllDetail(_) => "stages/all/{pk}/".into(),
            Route::AllUsedBy(_) => "stages/all/{pk}/used_by/".into(),
            Route::FlowList => "flows/instances/".into(),
            Route::FlowDetail(_) => "flows/instances/{slug}/".into(),
            Route::BindingList => "flows/bindings/".into(),
            Route::BindingDetail(_) => "flows/bindings/{pk}/".into(),
            Route::BindingUsedBy(_) => "flows/bindings/{pk}/used_by/".into(),
            Route::SourceList => "sources/all/".into(),
            Route::SourceDetail(_) => "sources/all/{slug}/".into(),
            Route::Version => "admin/version/".into(),
        }
    }

    fn allowed(&self) -> &'static [&'static str] {
        match self {
            Route::KindList(_) | Route::FlowList | Route::BindingList => LIST_CREATE,
            Route::KindDetail(..) | Route::FlowDetail(_) | Route::BindingDetail(_) => DETAIL_RW,
            Route::AllDetail(_) | Route::SourceDetail(_) => DETAIL_RD,
            Route::KindUsedBy(..)
            | Route::AllUsedBy(_)
            | Route::BindingUsedBy(_)
            | Route::AllList
            | Route::SourceList
            | Route::Version => LIST_ONLY,
        }
    }

    /// Routes that look up one object (their anonymous answer differs on newer releases).
    fn is_detail(&self) -> bool {
        matches!(
            self,
            Route::KindDetail(..)
                | Route::KindUsedBy(..)
                | Route::AllDetail(_)
                | Route::AllUsedBy(_)
                | Route::FlowDetail(_)
                | Route::BindingDetail(_)
                | Route::BindingUsedBy(_)
                | Route::SourceDetail(_)
        )
    }
}

/// The outcome of authentik's `TokenAuthentication`.
enum Auth {
    Ok,
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
    if credentials == control.token() {
        Auth::Ok
    } else {
        Auth::Failed("Token invalid/expired")
    }
}

/// What a handler gets.
pub(crate) struct Ctx<'a> {
    pub control: &'a Control,
    pub profile: Profile,
    pub query: Query,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl Ctx<'_> {
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
    let Some(route) = route else {
        return Reply::unrouted(method);
    };
    let profile = control.profile();
    match authenticate(headers, control) {
        Auth::Ok => {}
        Auth::Failed(msg) => return Reply::detail(403, msg),
        Auth::Anonymous => {
            let msg = if route.is_detail() && profile.anonymous_detail_is_permission_denied() {
                "You do not have permission to perform this action."
            } else {
                "Authentication credentials were not provided."
            };
            return Reply::detail(403, msg);
        }
    }
    let method = if method == "HEAD" { "GET" } else { method };
    if method == "OPTIONS" {
        return options(route, api_path);
    }
    if !route.allowed().contains(&method) {
        return Reply::method_not_allowed(method, route.allowed());
    }
    let ctx = Ctx {
        control,
        profile,
        query: Query::parse(query),
        headers,
        body,
    };
    match route {
        Route::KindList(kind) if method == "GET" => stages::list(&ctx, *kind),
        Route::KindList(kind) => stages::create(&ctx, *kind),
        Route::KindDetail(kind, id) => match method {
            "GET" => stages::retrieve(&ctx, *kind, id),
            "DELETE" => stages::destroy(&ctx, Some(*kind), id),
            _ => stages::update(&ctx, *kind, id, method == "PATCH"),
        },
        Route::KindUsedBy(kind, id) => stages::used_by(&ctx, Some(*kind), id),
        Route::AllList => all::list(&ctx),
        Route::AllDetail(id) if method == "GET" => all::retrieve(&ctx, id),
        Route::AllDetail(id) => stages::destroy(&ctx, None, id),
        Route::AllUsedBy(id) => stages::used_by(&ctx, None, id),
        Route::FlowList if method == "GET" => flows::list(&ctx),
        Route::FlowList => flows::create(&ctx),
        Route::FlowDetail(slug) => match method {
            "GET" => flows::retrieve(&ctx, slug),
            "DELETE" => flows::destroy(&ctx, slug),
            _ => flows::update(&ctx, slug, method == "PATCH"),
        },
        Route::BindingList if method == "GET" => bindings::list(&ctx),
        Route::BindingList => bindings::create(&ctx),
        Route::BindingDetail(id) => match method {
            "GET" => bindings::retrieve(&ctx, id),
            "DELETE" => bindings::destroy(&ctx, id),
            _ => bindings::update(&ctx, id, method == "PATCH"),
        },
        Route::BindingUsedBy(id) => bindings::used_by(&ctx, id),
        Route::SourceList => sources::list(&ctx),
        Route::SourceDetail(slug) if method == "GET" => sources::retrieve(&ctx, slug),
        Route::SourceDetail(slug) => sources::destroy(&ctx, slug),
        Route::Version => admin::version(&ctx),
    }
}

/// DRF's metadata answer to OPTIONS (names and media types only).
fn options(route: &Route, api_path: &str) -> Reply {
    let name = if route.is_detail() {
        "Instance"
    } else {
        "List"
    };
    Reply::json(
        200,
        Out::obj([
            (
                "name",
                Out::Str(format!("{} {name}", api_path.trim_end_matches('/'))),
            ),
            ("description", Out::str("")),
            ("renders", Out::strings(["application/json"])),
            ("parses", Out::strings(["application/json"])),
        ]),
    )
    .with_header("allow", route.allowed().join(", "))
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
            Some(Route::AllDetail("x".into()))
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
