//! DRF's metadata answer to OPTIONS, derived from the kind tables: the fields of the
//! serializer in order with their type, `required`, `read_only`, bounds and choices. Labels
//! are derived from field names (authentik's own labels and help texts are not copied).

use crate::errors::{Reply, ReplyBody};
use crate::model::{self, Choice, Computed, Family, FieldSpec, Kind, Ty};
use crate::out::Out;
use crate::profile::Profile;
use crate::routes::Route;

fn label(name: &str) -> String {
    let text = name.replace('_', " ");
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}

fn meta(name: &str, ty: &str, required: bool, read_only: bool) -> Vec<(String, Out)> {
    vec![
        ("type".into(), Out::str(ty)),
        ("required".into(), Out::Bool(required)),
        ("read_only".into(), Out::Bool(read_only)),
        ("label".into(), Out::Str(label(name))),
    ]
}

fn choices_out(all: &'static [Choice], profile: Profile, as_int: bool) -> Out {
    Out::Arr(
        model::choices(all, profile)
            .map(|c| {
                let value = match c.parse::<i64>() {
                    Ok(n) if as_int => Out::Int(n),
                    _ => Out::str(c),
                };
                Out::obj([("value", value), ("display_name", Out::str(c))])
            })
            .collect(),
    )
}

fn nested(read_only: bool) -> Out {
    Out::obj([
        ("type", Out::str("nested object")),
        ("required", Out::Bool(false)),
        ("read_only", Out::Bool(read_only)),
    ])
}

/// One field's metadata.
fn field(spec: &FieldSpec, profile: Profile) -> Out {
    let name = spec.name;
    let req = spec.required;
    let m = match spec.ty {
        Ty::Bool => meta(name, "boolean", req, false),
        Ty::Int { min, max } => {
            let mut m = meta(name, "integer", req, false);
            m.push(("min_value".into(), Out::Int(min)));
            m.push(("max_value".into(), Out::Int(max)));
            m
        }
        Ty::Float => meta(name, "float", req, false),
        Ty::Email => meta(name, "email", req, false),
        Ty::Text { .. } | Ty::Secret { .. } | Ty::Duration | Ty::Expression => {
            meta(name, "string", req, false)
        }
        Ty::Choice { choices, .. } => {
            let mut m = meta(name, "choice", req, false);
            m.push(("choices".into(), choices_out(choices, profile, false)));
            m
        }
        Ty::IntChoice(choices) => {
            let mut m = meta(name, "choice", req, false);
            let as_int = !profile.int_choices_as_text();
            m.push(("choices".into(), choices_out(choices, profile, as_int)));
            m
        }
        Ty::Template => meta(name, "choice", req, false),
        Ty::ChoiceList { choices, .. } => {
            let mut m = meta(name, "list", req, false);
            let mut child = meta(name, "choice", false, false);
            child.retain(|(k, _)| k != "label");
            child.push(("choices".into(), choices_out(choices, profile, false)));
            m.push(("child".into(), Out::Obj(child)));
            m
        }
        Ty::Fk(_) | Ty::M2m { .. } => meta(name, "field", req, false),
        Ty::Computed(c) => {
            // The nested prompt-stage set was writable (like `flow_set`) before 2025.x.
            let ro = c != Computed::PromptStageSet;
            let mut m = meta(name, "field", false, ro);
            m.push(("child".into(), nested(ro)));
            m
        }
    };
    Out::Obj(m)
}

/// The `actions` of a kind's serializer.
fn kind_fields(kind: Kind, profile: Profile) -> Out {
    let ro = |name: &str, ty: &str| (name.to_string(), Out::Obj(meta(name, ty, false, true)));
    let mut pairs = vec![
        ro("pk", "string"),
        (
            "name".to_string(),
            Out::Obj(meta("name", "string", true, false)),
        ),
    ];
    let family = kind.family();
    let fields: Vec<&FieldSpec> = kind
        .fields(profile)
        .filter(|f| f.name != "execution_logging")
        .collect();
    if family == Family::Policy
        && let Some(el) = kind.field(profile, "execution_logging")
    {
        pairs.push(("execution_logging".into(), field(el, profile)));
    }
    if family != Family::Prompt {
        for n in [
            "component",
            "verbose_name",
            "verbose_name_plural",
            "meta_model_name",
        ] {
            pairs.push(ro(n, "field"));
        }
    }
    if family == Family::Stage {
        let writable = profile.flow_set_writable();
        let mut m = meta("flow_set", "field", false, !writable);
        m.push(("child".into(), nested(!writable)));
        pairs.push(("flow_set".into(), Out::Obj(m)));
    }
    if family == Family::Policy {
        pairs.push(ro("bound_to", "field"));
    }
    for f in fields {
        pairs.push((f.name.to_string(), field(f, profile)));
    }
    Out::Obj(pairs)
}

/// The answer to OPTIONS on `route`.
pub fn answer(route: &Route, profile: Profile, allowed: &[&str]) -> Reply {
    let allow = allowed.join(", ");
    let (kind, detail) = match route {
        Route::KindList(k) => (Some(*k), false),
        Route::KindDetail(k, _) => (Some(*k), true),
        _ => (None, false),
    };
    let mut pairs: Vec<(String, Out)> = Vec::new();
    match kind {
        Some(k) if k.spec().options_fail => {
            // Building this serializer's metadata fails inside the server; Django's view
            // then answers OPTIONS itself, with an empty page.
            return Reply {
                status: 200,
                body: ReplyBody::Html(""),
                headers: vec![("allow", allow)],
            };
        }
        Some(k) => {
            let suffix = if detail { "Instance" } else { "List" };
            pairs.push((
                "name".into(),
                Out::Str(format!("{} {suffix}", k.spec().view)),
            ));
            pairs.push((
                "description".into(),
                Out::Str(format!("{} Viewset", k.model())),
            ));
        }
        None => {
            pairs.push(("name".into(), Out::Str(route.template())));
            pairs.push(("description".into(), Out::str("")));
        }
    }
    pairs.push(("renders".into(), Out::strings(["application/json"])));
    pairs.push(("parses".into(), Out::strings(["application/json"])));
    if let Some(k) = kind {
        let method = if detail { "PUT" } else { "POST" };
        pairs.push((
            "actions".into(),
            Out::obj([(method, kind_fields(k, profile))]),
        ));
    }
    Reply::json(200, Out::Obj(pairs)).with_header("allow", allow)
}
