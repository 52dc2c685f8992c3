//! `FlowSerializer` writes (and the nested `FlowSetSerializer` of old releases).

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::{Errors, Mode, WriteError, as_object};
use crate::model;
use crate::out::Out;
use crate::profile::Profile;
use crate::py;
use crate::state::{FlowData, State};
use crate::validate::{self as v, FieldErr};

/// The writable nested `flow_set` of 2023.1–2025.10 (`ListSerializer(FlowSetSerializer)`).
pub(super) fn flow_set(state: &State, profile: Profile, raw: &Value) -> Result<(), FieldErr> {
    let items = match raw {
        Value::Null => return Err(FieldErr::msg(v::NULL)),
        Value::Array(items) => items,
        other => {
            let msg = format!(
                "Expected a list of items but got type \"{}\".",
                py::type_name(other)
            );
            return Err(FieldErr::Tree(Out::obj([(
                "non_field_errors",
                Out::strings([msg]),
            )])));
        }
    };
    let mut any = false;
    let mut per_item = Vec::with_capacity(items.len());
    for item in items {
        match flow(state, profile, item, Mode::Create, None, true) {
            Ok(_) => per_item.push(Out::Obj(Vec::new())),
            Err(WriteError::Invalid(o)) => {
                any = true;
                per_item.push(o);
            }
            Err(WriteError::ServerError) => return Err(FieldErr::Abort),
        }
    }
    if any {
        Err(FieldErr::Tree(Out::Arr(per_item)))
    } else {
        Ok(())
    }
}

/// A validated flow write: the keys that were sent.
#[derive(Debug, Clone, Default)]
pub struct FlowWrite {
    pub values: BTreeMap<&'static str, Value>,
}

impl FlowWrite {
    fn str(&self, k: &str) -> Option<String> {
        self.values
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Apply the sent keys onto `data`.
    pub fn apply(&self, data: &mut FlowData) {
        let set = |slot: &mut String, k: &str| {
            if let Some(s) = self.str(k) {
                *slot = s;
            }
        };
        set(&mut data.name, "name");
        set(&mut data.slug, "slug");
        set(&mut data.title, "title");
        set(&mut data.designation, "designation");
        set(&mut data.background, "background");
        set(&mut data.policy_engine_mode, "policy_engine_mode");
        set(&mut data.layout, "layout");
        set(&mut data.denied_action, "denied_action");
        set(&mut data.authentication, "authentication");
        if let Some(b) = self
            .values
            .get("compatibility_mode")
            .and_then(Value::as_bool)
        {
            data.compatibility_mode = b;
        }
    }
}

/// Validate a flow body (`FlowSerializer`, or `FlowSetSerializer` when `nested`).
pub fn flow(
    state: &State,
    profile: Profile,
    data: &Value,
    mode: Mode,
    instance: Option<Uuid>,
    nested: bool,
) -> Result<FlowWrite, WriteError> {
    let body = as_object(data)?;
    let mut errors = Errors::default();
    let mut out = FlowWrite::default();
    let current = profile == Profile::Current;

    let mut fields: Vec<(&'static str, bool)> = vec![
        ("name", true),
        ("slug", true),
        ("title", true),
        ("designation", true),
    ];
    if current && !nested {
        fields.push(("background", false));
    }
    fields.extend([
        ("policy_engine_mode", false),
        ("compatibility_mode", false),
        ("layout", false),
        ("denied_action", false),
    ]);
    if !nested {
        fields.push(("authentication", false));
    }

    for (name, required) in fields {
        let Some(raw) = body.get(name) else {
            if required && mode != Mode::Partial {
                errors.add(name, FieldErr::msg(v::REQUIRED))?;
            }
            continue;
        };
        let checked = match name {
            "name" | "title" => v::text(raw, |_| vec![]).map(Value::String),
            "slug" => v::text(raw, |s| slug_errors(state, profile, s, instance)).map(Value::String),
            "background" => match raw {
                Value::String(s) => Ok(Value::String(s.clone())),
                other => v::char_value(other).map(Value::String),
            },
            "compatibility_mode" => v::boolean(raw).map(Value::Bool),
            other => {
                let all = match other {
                    "designation" => model::DESIGNATIONS,
                    "policy_engine_mode" => model::POLICY_ENGINE_MODES,
                    "layout" => model::LAYOUTS,
                    "denied_action" => model::DENIED_ACTIONS,
                    _ => model::FLOW_AUTHENTICATION,
                };
                v::choice(raw, model::choices(all, profile)).map(Value::String)
            }
        };
        match checked {
            Ok(value) => {
                out.values.insert(name, value);
            }
            Err(e) => errors.add(name, e)?,
        }
    }
    errors.finish()?;
    Ok(out)
}

/// The validators of `Flow.slug`: unique, (max length), slug pattern.
fn slug_errors(state: &State, profile: Profile, slug: &str, instance: Option<Uuid>) -> Vec<String> {
    let mut errors = Vec::new();
    if state
        .flows
        .values()
        .any(|f| f.slug == slug && Some(f.pk) != instance)
    {
        errors.push("Flow with this slug already exists.".into());
    }
    if let Some(max) = profile.flow_slug_max_length()
        && slug.chars().count() > max
    {
        errors.push(format!(
            "Ensure this field has no more than {max} characters."
        ));
    }
    if !slug
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        // Django 5 quotes the word with typographic quotes.
        let (open, close) = if profile == Profile::Current {
            ('\u{201c}', '\u{201d}')
        } else {
            ('"', '"')
        };
        errors.push(format!(
            "Enter a valid {open}slug{close} consisting of letters, numbers, underscores or hyphens."
        ));
    }
    errors
}
