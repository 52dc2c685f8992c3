//! `PolicyBindingSerializer` writes: `policy`, `group`, `user`, `target` (a flow's or
//! flow-stage binding's pk or policy-binding-model id), the options, then the
//! `(policy, target, order)` unique-together rule and the "exactly one of" rule.

use serde_json::Value;

use super::{Errors, Mode, WriteError, as_object, non_field};
use crate::model::Target;
use crate::policy_bindings::{PolicyBinding, PolicyBindingData};
use crate::profile::Profile;
use crate::py;
use crate::state::State;
use crate::validate::{self as v, FieldErr};

/// A validated write: the binding's fields after it.
#[derive(Debug, Clone)]
pub struct PolicyBindingWrite {
    pub data: PolicyBindingData,
}

/// A nullable reference to a user by its integer pk.
fn user(state: &State, raw: &Value) -> Result<Option<i64>, FieldErr> {
    let n = match raw {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::Bool(_) => {
            return Err(FieldErr::msg(
                "Incorrect type. Expected pk value, received bool.",
            ));
        }
        Value::Number(n) => n.as_i64(),
        Value::String(s) => py::int(s).and_then(|n| i64::try_from(n).ok()),
        _ => None,
    };
    let Some(n) = n else {
        return Err(FieldErr::msg(format!(
            "Incorrect type. Expected pk value, received {}.",
            py::type_name(raw)
        )));
    };
    if state.user(n).is_some() {
        Ok(Some(n))
    } else {
        Err(FieldErr::msg(format!(
            "Invalid pk \"{}\" - object does not exist.",
            py::to_str(raw)
        )))
    }
}

/// Validate a policy-binding body; `instance` is the binding being updated.
pub fn policy_binding(
    state: &State,
    profile: Profile,
    data: &Value,
    mode: Mode,
    instance: Option<&PolicyBinding>,
) -> Result<PolicyBindingWrite, WriteError> {
    let body = as_object(data)?;
    let mut errors = Errors::default();
    let mut out = instance.map_or_else(
        || PolicyBindingData::new(uuid::Uuid::nil(), 0),
        |b| b.data.clone(),
    );
    let fields = [
        ("policy", false),
        ("group", false),
        ("user", false),
        ("target", true),
        ("negate", false),
        ("enabled", false),
        ("order", true),
        ("timeout", false),
        ("failure_result", false),
    ];
    for (name, required) in fields {
        let Some(raw) = body.get(name) else {
            if required && mode != Mode::Partial {
                errors.add(name, FieldErr::msg(v::REQUIRED))?;
            }
            continue;
        };
        let checked = match name {
            "policy" => v::foreign_key(state, Target::Policy, raw).map(|p| out.policy = p),
            "group" => v::foreign_key(state, Target::Group, raw).map(|g| out.group = g),
            "user" => user(state, raw).map(|u| out.user = u),
            "target" => match raw {
                Value::Null => Err(FieldErr::msg(v::NULL)),
                Value::String(s) if s.is_empty() => Err(FieldErr::msg(v::NULL)),
                other => v::lookup_with(other, |id| state.resolve_pbm(id)).map(|t| out.target = t),
            },
            "negate" => v::boolean(raw).map(|b| out.negate = b),
            "enabled" => v::boolean(raw).map(|b| out.enabled = b),
            "order" => v::int32(raw).map(|n| out.order = n),
            "timeout" => v::int_in(raw, 0, i64::from(i32::MAX)).map(|n| out.timeout = n),
            _ => v::boolean(raw).map(|b| out.failure_result = b),
        };
        if let Err(e) = checked {
            errors.add(name, e)?;
        }
    }
    errors.finish()?;
    // UniqueTogetherValidator runs before `validate()`; values a PATCH omits come from the
    // instance, and a null policy never collides.
    if state.policy_bindings.taken(&out, instance.map(|b| b.pk)) {
        return Err(non_field(
            "The fields policy, target, order must make a unique set.",
        ));
    }
    // `validate()` counts what the body set. Current releases ask the target which of the
    // three it supports, and fail inside the server when the body has no target.
    let sent = |k: &str| body.get(k).is_some_and(|v| !v.is_null() && v != "");
    let count = ["policy", "group", "user"]
        .iter()
        .filter(|k| sent(k))
        .count();
    let names = if profile.sorted_binding_kinds() {
        if !body.contains_key("target") {
            return Err(WriteError::ServerError);
        }
        "'group', 'policy', 'user'"
    } else {
        "'policy', 'group' or 'user'"
    };
    if count > 1 {
        return Err(non_field(format!("Only one of {names} can be set.")));
    }
    if count < 1 {
        return Err(non_field(format!("One of {names} must be set.")));
    }
    Ok(PolicyBindingWrite { data: out })
}
