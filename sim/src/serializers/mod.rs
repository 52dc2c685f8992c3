//! Write validation of whole request bodies (DRF `Serializer.run_validation`): fields in
//! declaration order, errors collected per field, then object-level rules, then the
//! failures that happen while saving.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{self, Dflt, Kind, Ty};
use crate::out::Out;
use crate::profile::Profile;
use crate::py;
use crate::state::{FlowData, State};
use crate::validate::{self as v, FieldErr};

mod binding;
pub use binding::binding;

/// Which write this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Create,
    /// PUT: required fields required, omitted optional fields kept.
    Update,
    /// PATCH: only the keys sent.
    Partial,
}

/// Why a write is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// 400 with this body.
    Invalid(Out),
    /// The server fails while validating or saving (answered as an empty 405).
    ServerError,
}

/// Field errors in declaration order.
#[derive(Default)]
struct Errors(Vec<(String, Out)>);

impl Errors {
    /// Record `err`; `Err` when it aborts the request.
    fn add(&mut self, field: &str, err: FieldErr) -> Result<(), WriteError> {
        match err.to_out() {
            Some(o) => {
                self.0.push((field.to_string(), o));
                Ok(())
            }
            None => Err(WriteError::ServerError),
        }
    }

    fn finish(self) -> Result<(), WriteError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(WriteError::Invalid(Out::Obj(self.0)))
        }
    }
}

fn non_field(msg: impl Into<String>) -> WriteError {
    WriteError::Invalid(Out::obj([("non_field_errors", Out::strings([msg.into()]))]))
}

/// The body must be a JSON object.
fn as_object(data: &Value) -> Result<&Map<String, Value>, WriteError> {
    match data {
        Value::Object(m) => Ok(m),
        Value::Null => Err(non_field("No data provided")),
        other => Err(non_field(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            py::type_name(other)
        ))),
    }
}

/// A validated stage write: the keys that were sent, as stored values.
#[derive(Debug, Clone, Default)]
pub struct StageWrite {
    pub name: Option<String>,
    pub fields: BTreeMap<&'static str, Value>,
}

/// Validate a stage body for `kind`. `instance` is the stage being updated (its own name is
/// not a conflict).
pub fn stage(
    state: &State,
    profile: Profile,
    kind: Kind,
    data: &Value,
    mode: Mode,
    instance: Option<Uuid>,
) -> Result<StageWrite, WriteError> {
    let body = as_object(data)?;
    let mut errors = Errors::default();
    let mut out = StageWrite::default();
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
                if state.stage_name_taken(s, instance) {
                    vec!["stage with this name already exists.".into()]
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
    if profile.flow_set_writable()
        && let Some(raw) = body.get("flow_set")
    {
        match flow_set(state, profile, raw) {
            Ok(()) => flow_set_written = true,
            Err(e) => errors.add("flow_set", e)?,
        }
    }

    for spec in kind.fields(profile) {
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

    // IdentificationStageSerializer.validate looks at the submitted data only.
    if kind == Kind::Identification {
        let empty = |k: &str| {
            out.fields
                .get(k)
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        };
        if empty("user_fields") && empty("sources") {
            return Err(non_field(
                "When no user fields are selected, at least one source must be selected",
            ));
        }
    }
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

/// One kind field's stored value.
fn field_value(state: &State, profile: Profile, ty: Ty, raw: &Value) -> Result<Value, FieldErr> {
    let uuid_value = |u: Uuid| Value::String(u.to_string());
    Ok(match ty {
        Ty::Bool => Value::Bool(v::boolean(raw)?),
        Ty::Int32 => Value::from(v::int32(raw)?),
        Ty::Duration => Value::String(v::duration(raw)?),
        Ty::Choice(all) => Value::String(v::choice(raw, model::choices(all, profile))?),
        Ty::ChoiceList {
            choices,
            allow_empty,
        } => {
            let allowed: Vec<&str> = model::choices(choices, profile).collect();
            Value::from(v::choice_list(raw, &allowed, allow_empty)?)
        }
        Ty::Fk(target) => v::foreign_key(state, target, raw)?.map_or(Value::Null, uuid_value),
        Ty::M2m(target) => Value::Array(
            v::many_to_many(state, target, raw)?
                .into_iter()
                .map(uuid_value)
                .collect(),
        ),
    })
}

/// The stored value of a field the body omitted on create.
pub fn default_value(d: Dflt) -> Value {
    match d {
        Dflt::Null | Dflt::Missing => Value::Null,
        Dflt::Bool(b) => Value::Bool(b),
        Dflt::Int(i) => Value::from(i),
        Dflt::Str(s) => Value::String(s.into()),
        Dflt::EmptyList => Value::Array(Vec::new()),
    }
}

/// The writable nested `flow_set` of 2023.1–2025.10 (`ListSerializer(FlowSetSerializer)`).
fn flow_set(state: &State, profile: Profile, raw: &Value) -> Result<(), FieldErr> {
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
        errors.push(
            "Enter a valid \"slug\" consisting of letters, numbers, underscores or hyphens.".into(),
        );
    }
    errors
}
