//! `FlowStageBindingSerializer` writes: fields in declaration order, then the
//! `(target, stage, order)` unique-together rule.

use serde_json::Value;

use super::{Errors, Mode, WriteError, as_object, non_field};
use crate::bindings::{Binding, BindingData};
use crate::model::{self, Target};
use crate::profile::Profile;
use crate::state::State;
use crate::validate::{self as v, FieldErr};

/// A validated binding write: the binding's fields after it.
#[derive(Debug, Clone)]
pub struct BindingWrite {
    pub data: BindingData,
    /// Whether the body set `stage` (then `stage_obj` renders as the base `Stage` class).
    pub stage_sent: bool,
}

/// Validate a binding body; `instance` is the binding being updated.
pub fn binding(
    state: &State,
    profile: Profile,
    data: &Value,
    mode: Mode,
    instance: Option<&Binding>,
) -> Result<BindingWrite, WriteError> {
    let body = as_object(data)?;
    let mut errors = Errors::default();
    // Placeholders for a create: the required fields are checked below.
    let mut out = instance.map_or_else(
        || BindingData::new(uuid::Uuid::nil(), uuid::Uuid::nil(), 0),
        |b| b.data.clone(),
    );
    let fields = [
        ("target", true),
        ("stage", true),
        ("evaluate_on_plan", false),
        ("re_evaluate_policies", false),
        ("order", true),
        ("policy_engine_mode", false),
        ("invalid_response_action", false),
    ];
    for (name, required) in fields {
        let Some(raw) = body.get(name) else {
            if required && mode != Mode::Partial {
                errors.add(name, FieldErr::msg(v::REQUIRED))?;
            }
            continue;
        };
        let checked = match name {
            "target" => v::reference(state, Target::Flow, raw).map(|pk| out.target = pk),
            "stage" => v::reference(state, Target::Stage, raw).map(|pk| out.stage = pk),
            "evaluate_on_plan" => v::boolean(raw).map(|b| out.evaluate_on_plan = b),
            "re_evaluate_policies" => v::boolean(raw).map(|b| out.re_evaluate_policies = b),
            "order" => v::int32(raw).map(|n| out.order = n),
            "policy_engine_mode" => {
                v::choice(raw, model::choices(model::POLICY_ENGINE_MODES, profile))
                    .map(|s| out.policy_engine_mode = s)
            }
            _ => v::choice(
                raw,
                model::choices(model::INVALID_RESPONSE_ACTIONS, profile),
            )
            .map(|s| out.invalid_response_action = s),
        };
        if let Err(e) = checked {
            errors.add(name, e)?;
        }
    }
    errors.finish()?;
    // UniqueTogetherValidator: fields a PATCH omits are taken from the instance.
    if state
        .bindings
        .taken(out.target, out.stage, out.order, instance.map(|b| b.pk))
    {
        return Err(non_field(
            "The fields target, stage, order must make a unique set.",
        ));
    }
    Ok(BindingWrite {
        data: out,
        stage_sent: body.contains_key("stage"),
    })
}
