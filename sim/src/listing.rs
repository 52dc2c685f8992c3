//! List endpoints: django-filter filters, DRF `SearchFilter` and `OrderingFilter`, then
//! pagination.

use std::cmp::Ordering;

use serde_json::Value;

use crate::errors::Reply;
use crate::model::{self, FilterSpec, FilterTy, Target};
use crate::out::Out;
use crate::pagination;
use crate::profile::Profile;
use crate::py;
use crate::query::Query;
use crate::state::State;

/// How one resource's list behaves.
pub struct ListSpec<'a> {
    pub filters: Vec<&'static FilterSpec>,
    pub search_fields: &'a [&'a str],
    /// Fields `ordering` may name.
    pub ordering_fields: Vec<&'a str>,
    /// Used when `ordering` names no valid field; empty means creation order.
    pub default_ordering: &'a [&'a str],
    /// Appended to every ordering (what breaks ties where a release was seen to).
    pub tiebreak: &'a [&'a str],
}

/// Filter, search, order and paginate `items` (given in creation order); `get` reads a
/// field's stored value, `render` serializes an item.
pub fn list<T>(
    state: &State,
    profile: Profile,
    q: &Query,
    items: Vec<T>,
    spec: &ListSpec<'_>,
    get: impl Fn(&T, &str) -> Value,
    render: impl Fn(&T) -> Out,
) -> Result<Reply, Reply> {
    let items = apply_filters(state, profile, q, items, &spec.filters, &get)?;
    let mut items = search(profile, q, items, spec.search_fields, &get);
    order(q, &mut items, spec, &get);
    let (range, page) = pagination::page(items.len(), q, profile)?;
    let results = items[range].iter().map(render).collect();
    Ok(Reply::json(200, pagination::body(page, results, profile)))
}

const INVALID_CHOICE: &str =
    "Select a valid choice. That choice is not one of the available choices.";

/// The stored field a filter parameter reads.
fn filter_field(f: &FilterSpec) -> &'static str {
    if matches!(f.ty, FilterTy::Pk) {
        "pk"
    } else {
        f.param
    }
}

fn apply_filters<T>(
    state: &State,
    profile: Profile,
    q: &Query,
    mut items: Vec<T>,
    filters: &[&'static FilterSpec],
    get: &impl Fn(&T, &str) -> Value,
) -> Result<Vec<T>, Reply> {
    let mut errors: Vec<(String, Out)> = Vec::new();
    let mut wanted: Vec<(&'static str, Wanted)> = Vec::new();
    for f in filters {
        if let FilterTy::M2m(target) = f.ty {
            let values: Vec<&str> = q.get_all(f.param).filter(|v| !v.is_empty()).collect();
            if values.is_empty() {
                continue;
            }
            let mut any = Vec::new();
            for raw in values {
                match py::parse_uuid(raw) {
                    Some(pk) if state.exists(target, pk) => {
                        any.push(Value::String(pk.to_string()));
                    }
                    _ => {
                        let msg = format!(
                            "Select a valid choice. {raw} is not one of the available choices."
                        );
                        errors.push((f.param.to_string(), Out::strings([msg])));
                        break;
                    }
                }
            }
            wanted.push((f.param, Wanted::AnyOf(any)));
            continue;
        }
        // django-filter ignores empty values.
        let Some(raw) = q.get(f.param).filter(|v| !v.is_empty()) else {
            continue;
        };
        match parse_filter(state, profile, f.ty, raw) {
            Ok(Some(w)) => wanted.push((filter_field(f), w)),
            Ok(None) => {}
            Err(msg) => errors.push((f.param.to_string(), Out::strings([msg]))),
        }
    }
    if !errors.is_empty() {
        return Err(Reply::json(400, Out::Obj(errors)));
    }
    items.retain(|item| wanted.iter().all(|(field, w)| w.matches(&get(item, field))));
    Ok(items)
}

/// A parsed filter value.
enum Wanted {
    Equals(Value),
    /// An integer field compared with a decimal (Django truncates it).
    Number(f64),
    /// A list field holding any of these.
    AnyOf(Vec<Value>),
}

impl Wanted {
    fn matches(&self, v: &Value) -> bool {
        match self {
            Wanted::Equals(w) => v == w,
            Wanted::Number(n) => v.as_f64() == Some(n.trunc()),
            Wanted::AnyOf(items) => match v.as_array() {
                Some(a) => a.iter().any(|x| items.contains(x)),
                None => items.contains(v),
            },
        }
    }
}

fn parse_filter(
    state: &State,
    profile: Profile,
    ty: FilterTy,
    raw: &str,
) -> Result<Option<Wanted>, String> {
    Ok(Some(match ty {
        FilterTy::Exact => Wanted::Equals(Value::String(raw.to_string())),
        // BooleanWidget: true/false/1/0, anything else means "no filter".
        FilterTy::Bool => match raw.to_lowercase().as_str() {
            "true" | "1" => Wanted::Equals(Value::Bool(true)),
            "false" | "0" => Wanted::Equals(Value::Bool(false)),
            _ => return Ok(None),
        },
        FilterTy::Number => match py::float(raw) {
            Some(n) if n.is_finite() => Wanted::Number(n),
            _ => return Err("Enter a number.".into()),
        },
        FilterTy::Fk(target) => match py::parse_uuid(raw) {
            Some(pk) if state.exists(target, pk) => Wanted::Equals(Value::String(pk.to_string())),
            _ => return Err(INVALID_CHOICE.into()),
        },
        FilterTy::Choice(all) => {
            if model::choices(all, profile).any(|c| c == raw) {
                Wanted::Equals(Value::String(raw.to_string()))
            } else {
                return Err(format!(
                    "Select a valid choice. {raw} is not one of the available choices."
                ));
            }
        }
        FilterTy::M2m(_) => return Ok(None),
        FilterTy::Pk | FilterTy::Uuid => match py::parse_uuid(py::strip(raw)) {
            Some(pk) => Wanted::Equals(Value::String(pk.to_string())),
            None => return Err("Enter a valid UUID.".into()),
        },
    }))
}

/// DRF's search terms: split on whitespace and commas; DRF 3.15+ keeps quoted phrases whole.
fn search_terms(raw: &str, quoted: bool) -> Vec<String> {
    let raw = raw.replace('\0', "");
    if !quoted {
        return raw
            .replace(',', " ")
            .split(py::is_space)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
    }
    let mut terms = Vec::new();
    let mut chars = raw.chars().peekable();
    while let Some(&c) = chars.peek() {
        if py::is_space(c) || c == ',' {
            chars.next();
            continue;
        }
        if c == '"' || c == '\'' {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|x| *x != c).collect();
            if !phrase.is_empty() {
                terms.push(phrase);
            }
            continue;
        }
        let mut term = String::new();
        while let Some(&x) = chars.peek() {
            if py::is_space(x) || x == ',' {
                break;
            }
            term.push(x);
            chars.next();
        }
        terms.push(term);
    }
    terms
}

fn search<T>(
    profile: Profile,
    q: &Query,
    items: Vec<T>,
    fields: &[&str],
    get: &impl Fn(&T, &str) -> Value,
) -> Vec<T> {
    let terms: Vec<String> = search_terms(
        q.get("search").unwrap_or(""),
        profile.quoted_search_phrases(),
    )
    .into_iter()
    .map(|t| t.to_uppercase())
    .collect();
    if terms.is_empty() || fields.is_empty() {
        return items;
    }
    items
        .into_iter()
        .filter(|item| {
            let values: Vec<String> = fields
                .iter()
                .filter_map(|f| get(item, f).as_str().map(str::to_uppercase))
                .collect();
            terms
                .iter()
                .all(|t| values.iter().any(|v| v.contains(t.as_str())))
        })
        .collect()
}

/// A sortable value, ordered like PostgreSQL (NULLs last when ascending).
#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Bool(bool),
    Num(f64),
    Text(Collation),
    Null,
}

impl SortKey {
    fn of(v: Value) -> SortKey {
        match v {
            Value::Null => SortKey::Null,
            Value::Bool(b) => SortKey::Bool(b),
            Value::Number(n) => SortKey::Num(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => SortKey::Text(Collation::of(&s)),
            Value::Array(items) => SortKey::Text(Collation::of(
                &items.iter().map(py::to_str).collect::<Vec<_>>().join(","),
            )),
            Value::Object(_) => SortKey::Null,
        }
    }

    fn cmp(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Null, SortKey::Null) => Ordering::Equal,
            (SortKey::Null, _) => Ordering::Greater,
            (_, SortKey::Null) => Ordering::Less,
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

/// A sort key approximating the `en_US.UTF-8` collation of authentik's PostgreSQL: letters
/// and digits first, case-insensitively; punctuation and then case only break ties
/// (lower case first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Collation {
    primary: String,
    secondary: String,
    tertiary: String,
}

impl Collation {
    pub fn of(s: &str) -> Collation {
        Collation {
            primary: s
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect(),
            secondary: s.to_lowercase(),
            tertiary: s
                .chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect(),
        }
    }
}

/// Compare two strings as PostgreSQL's `en_US.UTF-8` would (approximately).
pub fn collate(a: &str, b: &str) -> Ordering {
    Collation::of(a).cmp(&Collation::of(b))
}

/// OrderingFilter: comma-separated fields, `-` for descending; unknown terms are dropped.
fn order<T>(q: &Query, items: &mut Vec<T>, spec: &ListSpec<'_>, get: &impl Fn(&T, &str) -> Value) {
    let requested: Vec<(String, bool)> = q
        .get("ordering")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| spec.ordering_fields.contains(&t.trim_start_matches('-')) && !t.is_empty())
        .map(|t| (t.trim_start_matches('-').to_string(), t.starts_with('-')))
        .collect();
    let mut terms: Vec<(String, bool)> = if requested.is_empty() {
        spec.default_ordering
            .iter()
            .map(|f| (f.to_string(), false))
            .collect()
    } else {
        requested
    };
    for t in spec.tiebreak {
        if !terms.iter().any(|(f, _)| f == t) {
            terms.push((t.to_string(), false));
        }
    }
    if terms.is_empty() {
        return;
    }
    let mut keyed: Vec<(Vec<SortKey>, T)> = items
        .drain(..)
        .map(|item| {
            (
                terms
                    .iter()
                    .map(|(f, _)| SortKey::of(get(&item, f)))
                    .collect(),
                item,
            )
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, (_, desc)) in terms.iter().enumerate() {
            let o = a[i].cmp(&b[i]);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    items.extend(keyed.into_iter().map(|(_, item)| item));
}

/// Filters of the lists that are not stage kinds.
pub const ALL_STAGES_FILTERS: &[FilterSpec] = &[FilterSpec {
    param: "name",
    ty: FilterTy::Exact,
    since: Profile::V2023_10,
}];
pub const FLOW_FILTERS: &[FilterSpec] = &[
    FilterSpec {
        param: "flow_uuid",
        ty: FilterTy::Pk,
        since: Profile::V2023_10,
    },
    FilterSpec {
        param: "name",
        ty: FilterTy::Exact,
        since: Profile::V2023_10,
    },
    FilterSpec {
        param: "slug",
        ty: FilterTy::Exact,
        since: Profile::V2023_10,
    },
    FilterSpec {
        param: "designation",
        ty: FilterTy::Choice(model::DESIGNATIONS),
        since: Profile::V2023_10,
    },
    FilterSpec {
        param: "denied_action",
        ty: FilterTy::Choice(model::DENIED_ACTIONS),
        since: Profile::V2023_10,
    },
];
const fn filter(param: &'static str, ty: FilterTy) -> FilterSpec {
    FilterSpec {
        param,
        ty,
        since: Profile::V2023_10,
    }
}

/// `FlowStageBindingViewSet.filterset_fields = "__all__"`, in model field order (`policies`
/// is left out: the simulator has no policies).
pub const BINDING_FILTERS: &[FilterSpec] = &[
    filter("pbm_uuid", FilterTy::Uuid),
    filter(
        "policy_engine_mode",
        FilterTy::Choice(model::POLICY_ENGINE_MODES),
    ),
    filter("fsb_uuid", FilterTy::Pk),
    filter("target", FilterTy::Fk(Target::Flow)),
    filter("stage", FilterTy::Fk(Target::Stage)),
    filter("evaluate_on_plan", FilterTy::Bool),
    filter("re_evaluate_policies", FilterTy::Bool),
    filter("order", FilterTy::Number),
    filter(
        "invalid_response_action",
        FilterTy::Choice(model::INVALID_RESPONSE_ACTIONS),
    ),
];
pub const SOURCE_FILTERS: &[FilterSpec] = &[
    FilterSpec {
        param: "name",
        ty: FilterTy::Exact,
        since: Profile::V2023_10,
    },
    FilterSpec {
        param: "slug",
        ty: FilterTy::Exact,
        since: Profile::V2023_10,
    },
    FilterSpec {
        param: "managed",
        ty: FilterTy::Exact,
        since: Profile::V2023_10,
    },
    FilterSpec {
        param: "pbm_uuid",
        ty: FilterTy::Pk,
        since: Profile::V2023_10,
    },
];

/// `PolicyBindingFilter`: `target` takes only policy-binding-model ids.
pub const POLICY_BINDING_FILTERS: &[FilterSpec] = &[
    filter("policy", FilterTy::Fk(Target::Policy)),
    filter("policy__isnull", FilterTy::Bool),
    filter("target", FilterTy::Fk(Target::Pbm)),
    filter("target_in", FilterTy::M2m(Target::Pbm)),
    filter("enabled", FilterTy::Bool),
    filter("order", FilterTy::Number),
    filter("timeout", FilterTy::Number),
];
pub const GROUP_FILTERS: &[FilterSpec] = &[
    filter("name", FilterTy::Exact),
    filter("is_superuser", FilterTy::Bool),
];
pub const USER_FILTERS: &[FilterSpec] = &[
    filter("username", FilterTy::Exact),
    filter("email", FilterTy::Exact),
    filter("name", FilterTy::Exact),
    filter("uuid", FilterTy::Uuid),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms() {
        assert_eq!(search_terms("a b,c", false), ["a", "b", "c"]);
        assert_eq!(search_terms("\"a b\" c", true), ["a b", "c"]);
        assert_eq!(search_terms("\"a b\" c", false), ["\"a", "b\"", "c"]);
        assert!(search_terms("  ", true).is_empty());
    }

    #[test]
    fn collation() {
        assert_eq!(
            collate("lab-password-1-put", "lab-password-2"),
            Ordering::Less
        );
        assert_eq!(collate("default-x", "lab"), Ordering::Less);
        assert_eq!(collate("ref-pw", "REF-PW"), Ordering::Less);
        assert_eq!(collate("Beta", "alpha"), Ordering::Greater);
    }
}
