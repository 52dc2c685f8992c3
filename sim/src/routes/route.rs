//! URL routing: which resource a path under `/api/v3/` names (DRF router patterns).

use crate::model::{Family, Kind};
use crate::query::percent_decode;

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

    pub(super) fn allowed(&self) -> &'static [&'static str] {
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
    pub(super) fn is_detail(&self) -> bool {
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
    pub(super) fn kind(&self) -> Option<Kind> {
        match self {
            Route::KindList(k) | Route::KindDetail(k, _) | Route::KindUsedBy(k, _) => Some(*k),
            _ => None,
        }
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
}
