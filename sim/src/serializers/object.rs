//! Writes of stages, policies and prompts (`StageSerializer`, `PolicySerializer`,
//! `PromptSerializer` and their subclasses), driven by the kind tables: the name with its
//! family-wide uniqueness, then the fields in declaration order, then the object-level rules.

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::{Errors, Mode, WriteError, as_object, flow::flow_set, rules};
use crate::expression;
use crate::model::{self, Dflt, Family, Kind, Ty};
use crate::profile::Profile;
use crate::state::State;
use crate::validate::{self as v, FieldErr};

/// A validated write: the keys that were sent, as stored values.
#[derive(Debug, Clone, Default)]
pub struct ObjWrite {
    pub name: Option<String>,
    pub fields: BTreeMap<&'static str, Value>,
}

/// Validate a body for `kind`. `instance` is the object being updated (its own name is not a
/// conflict).
pub fn object(
    state: &State,
    profile: Profile,
    kind: Kind,
    data: &Value,
    mode: Mode,
    instance: Option<Uuid>,
) -> Result<ObjWrite, WriteError> {
    let body = as_object(data)?;
    let family = kind.family();
    let mut errors = Errors::default();
    let mut out = ObjWrite::default();
    let missing = |errors: &mut Errors, name: &str, required: bool| {
        if mode != Mode::Partial && required {
            errors.add(name, FieldErr::msg(v::REQUIRED))
        } else {
            Ok(())
        }
    };

    match body.get("name") {
        None => missing(&mut errors, "name", true)?,
        Some(raw) => {
            let checked = v::text(raw, |s| {
                if state.name_taken(family, s, instance) {
                    vec![format!(
                        "{} with this name already exists.",
                        family.unique_label()
                    )]
                } else {
                    vec![]
                }
            });
            match checked {
                Ok(s) => out.name = Some(s),
                Err(e) => errors.add("name", e)?,
            }
        }
    }

    let mut flow_set_written = false;
    if family == Family::Stage
        && profile.flow_set_writable()
        && let Some(raw) = body.get("flow_set")
    {
        match flow_set(state, profile, raw) {
            Ok(()) => flow_set_written = true,
            Err(e) => errors.add("flow_set", e)?,
        }
    }

    for spec in kind.fields(profile).filter(|f| f.writable()) {
        let Some(raw) = body.get(spec.name) else {
            missing(&mut errors, spec.name, spec.required)?;
            continue;
        };
        match field_value(state, profile, spec.ty, raw) {
            Ok(value) => {
                out.fields.insert(spec.name, value);
            }
            Err(e) => errors.add(spec.name, e)?,
        }
    }
    errors.finish()?;
    rules::check(kind, &out.fields)?;

    // Saving a nested `flow_set` trips DRF's assertion on nested writes: a 500.
    if flow_set_written {
        return Err(WriteError::ServerError);
    }
    // A field without a model default is inserted as NULL: the database refuses it.
    if mode == Mode::Create
        && kind
            .fields(profile)
            .any(|f| matches!(f.default, Dflt::Missing) && !out.fields.contains_key(f.name))
    {
        return Err(WriteError::ServerError);
    }
    Ok(out)
}

/// The stored fields of a new object: the sent values over the model defaults (defaults of
/// the fields `profile` has win over those of other releases' versions of a field).
pub fn with_defaults(
    kind: Kind,
    profile: Profile,
    sent: BTreeMap<&'static str, Value>,
) -> BTreeMap<&'static str, Value> {
    let mut fields: BTreeMap<&'static str, Value> = BTreeMap::new();
    for f in kind.all_fields().filter(|f| !f.exists_in(profile)) {
        fields.insert(f.name, super::default_value(f.default));
    }
    for f in kind.fields(profile) {
        fields.insert(f.name, super::default_value(f.default));
    }
    fields.retain(|k, _| kind.all_fields().any(|f| f.name == *k && f.writable()));
    fields.extend(sent);
    fields
}

/// One field's stored value.
fn field_value(state: &State, profile: Profile, ty: Ty, raw: &Value) -> Result<Value, FieldErr> {
    let uuid_value = |u: Uuid| Value::String(u.to_string());
    Ok(match ty {
        Ty::Bool => Value::Bool(v::boolean(raw)?),
        Ty::Int { min, max } => Value::from(v::int_in(raw, min, max)?),
        Ty::Float => Value::from(v::float(raw)?),
        Ty::Text { blank, null } => v::text_opt(raw, blank, null)?,
        Ty::Secret { blank } => v::text_opt(raw, blank, false)?,
        Ty::Email => Value::String(v::email(raw)?),
        Ty::Duration => Value::String(v::duration(raw)?),
        Ty::Choice { choices, null } => {
            if null && raw.is_null() {
                Value::Null
            } else {
                Value::String(v::choice(raw, model::choices(choices, profile))?)
            }
        }
        Ty::IntChoice(choices) => {
            let s = v::choice(raw, model::choices(choices, profile))?;
            s.parse::<i64>().map_or(Value::String(s), Value::from)
        }
        Ty::ChoiceList {
            choices,
            allow_empty,
        } => {
            let allowed: Vec<&str> = model::choices(choices, profile).collect();
            Value::from(v::choice_list(raw, &allowed, allow_empty)?)
        }
        Ty::Fk(target) => v::foreign_key(state, target, raw)?.map_or(Value::Null, uuid_value),
        Ty::M2m {
            target,
            allow_empty,
        } => Value::Array(
            v::many_to_many(state, target, raw, allow_empty)?
                .into_iter()
                .map(uuid_value)
                .collect(),
        ),
        Ty::Template => {
            let s = v::text(raw, |_| vec![])?;
            if model::choices(model::EMAIL_TEMPLATES, profile).any(|t| t == s) {
                Value::String(s)
            } else {
                return Err(FieldErr::msg(format!("Invalid template '{s}' specified.")));
            }
        }
        Ty::Expression => {
            let s = v::text(raw, |_| vec![])?;
            match expression::check(&s) {
                Ok(()) => Value::String(s),
                Err(msg) => {
                    return Err(FieldErr::msg(format!("Expression Syntax Error: {msg}")));
                }
            }
        }
        // Read-only fields are never read from a body.
        Ty::Computed(_) => Value::Null,
    })
}
