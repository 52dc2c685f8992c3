//! Stages, policies and prompts as their kind's endpoint renders them (the family's base
//! fields, then the kind's fields from its table), and their `used_by` lists.

use serde_json::Value;
use uuid::Uuid;

use super::{StageClass, stage_base};
use crate::model::{Computed, Family, FieldSpec, Ty};
use crate::out::Out;
use crate::profile::Profile;
use crate::state::{Obj, State, changes_names};

fn s(v: &str) -> Out {
    Out::Str(v.to_string())
}

/// An object as its kind's endpoint renders it.
pub fn obj(state: &State, profile: Profile, o: &Obj) -> Out {
    let k = o.kind;
    let mut pairs = match k.family() {
        Family::Stage => stage_base(state, profile, o, StageClass::Kind),
        Family::Policy => vec![
            ("pk".into(), Out::Str(o.pk.to_string())),
            ("name".into(), s(&o.name)),
            (
                "execution_logging".into(),
                Out::from(
                    o.fields
                        .get("execution_logging")
                        .cloned()
                        .unwrap_or(Value::Bool(false)),
                ),
            ),
            ("component".into(), s(k.component())),
            ("verbose_name".into(), s(k.verbose_name())),
            ("verbose_name_plural".into(), s(k.verbose_name_plural())),
            (
                "meta_model_name".into(),
                Out::Str(k.meta_model_name(profile)),
            ),
            ("bound_to".into(), Out::Int(state.policy_uses(o.pk) as i64)),
        ],
        Family::Prompt => vec![
            ("pk".into(), Out::Str(o.pk.to_string())),
            ("name".into(), s(&o.name)),
        ],
    };
    for spec in k.fields(profile) {
        if !spec.readable() || (k.family() == Family::Policy && spec.name == "execution_logging") {
            continue;
        }
        pairs.push((spec.name.into(), value(state, profile, o, spec)));
    }
    Out::Obj(pairs)
}

/// One field's rendering: stored values as they are, except where a release shows them
/// differently, and the computed fields.
fn value(state: &State, profile: Profile, o: &Obj, spec: &FieldSpec) -> Out {
    let stored = o.fields.get(spec.name).cloned().unwrap_or(Value::Null);
    match spec.ty {
        Ty::Computed(Computed::EmptyObjs) => Out::Arr(Vec::new()),
        Ty::Computed(Computed::PromptStageSet) => Out::Arr(
            state
                .prompt_stages_of(o.pk)
                .into_iter()
                .map(|st| Out::Obj(stage_base(state, profile, st, StageClass::Kind)))
                .collect(),
        ),
        Ty::Computed(Computed::PromptStagesObj) => Out::Arr(
            state
                .prompt_stages_of(o.pk)
                .into_iter()
                .map(|st| obj(state, profile, st))
                .collect(),
        ),
        Ty::IntChoice(_) if profile.int_choices_as_text() => match stored {
            Value::Number(n) => Out::Str(n.to_string()),
            other => Out::from(other),
        },
        Ty::IntChoice(_) => match &stored {
            Value::String(t) => t.parse::<i64>().map_or(Out::from(stored.clone()), Out::Int),
            _ => Out::from(stored),
        },
        // A value stored by a release that kept minutes as an integer (`token_expiry`).
        Ty::Duration => match stored {
            Value::Number(n) => Out::Str(format!("minutes={n}")),
            other => Out::from(other),
        },
        Ty::Int { .. } => match &stored {
            Value::String(t) => t
                .strip_prefix("minutes=")
                .and_then(|m| m.parse::<i64>().ok())
                .map_or(Out::from(stored.clone()), Out::Int),
            _ => Out::from(stored),
        },
        _ => Out::from(stored),
    }
}

/// One `used_by` entry.
fn entry(profile: Profile, app: &str, model: &str, pk: String, name: String, act: &str) -> Out {
    let action = if profile.upper_case_used_by() {
        act.to_ascii_uppercase()
    } else {
        act.to_string()
    };
    Out::obj([
        ("app", s(app)),
        ("model_name", s(model)),
        ("pk", Out::Str(pk)),
        ("name", Out::Str(name)),
        ("action", Out::Str(action)),
    ])
}

/// The `used_by` list of an object: flows that bind a stage (`cascade_many`), the bindings
/// that would go with it (`cascade`), then the objects whose references to it would be
/// nulled (`set_null`) or dropped from a list (`cascade_many`).
pub fn obj_used_by(state: &State, profile: Profile, o: &Obj) -> Out {
    let mut items = Vec::new();
    match o.kind.family() {
        Family::Stage => {
            for f in state.flows_of_stage(o.pk) {
                items.push(entry(
                    profile,
                    "authentik_flows",
                    "flow",
                    f.pk.to_string(),
                    changes_names::flow_name(f),
                    "cascade_many",
                ));
            }
            for b in state.bindings.of_stage(o.pk) {
                items.push(entry(
                    profile,
                    "authentik_flows",
                    "flowstagebinding",
                    b.pk.to_string(),
                    changes_names::binding_name(b),
                    "cascade",
                ));
            }
        }
        Family::Policy => {
            for b in state.policy_bindings.iter() {
                if b.data.policy == Some(o.pk) {
                    items.push(entry(
                        profile,
                        "authentik_policies",
                        "policybinding",
                        b.pk.to_string(),
                        state.policy_binding_name(&b.data),
                        "cascade",
                    ));
                }
            }
        }
        Family::Prompt => {}
    }
    items.extend(referrers(state, profile, o.pk));
    Out::Arr(items)
}

/// The objects whose fields point at `pk`.
fn referrers(state: &State, profile: Profile, pk: Uuid) -> Vec<Out> {
    let key = Value::String(pk.to_string());
    let mut found: Vec<(&Obj, &'static str)> = Vec::new();
    for family in [Family::Stage, Family::Policy, Family::Prompt] {
        for other in state.table(family).values() {
            for spec in other.kind.fields(profile) {
                let Some(v) = other.fields.get(spec.name) else {
                    continue;
                };
                match spec.ty {
                    Ty::Fk(_) if *v == key => found.push((other, "set_null")),
                    Ty::M2m { .. } if v.as_array().is_some_and(|a| a.contains(&key)) => {
                        found.push((other, "cascade_many"))
                    }
                    _ => {}
                }
            }
        }
    }
    found.sort_by_key(|(o, _)| o.seq);
    found
        .into_iter()
        .map(|(o, act)| {
            let name = match o.kind.family() {
                Family::Stage => format!("Stage {}", o.name),
                _ => o.name.clone(),
            };
            entry(
                profile,
                o.kind.app(),
                o.kind.model_name(profile),
                o.pk.to_string(),
                name,
                act,
            )
        })
        .collect()
}

/// The `used_by` list of a flow-stage binding: the policy bindings on it.
pub fn used_by_binding(state: &State, profile: Profile, pbm: Uuid) -> Out {
    Out::Arr(
        state
            .policy_bindings
            .of_target(pbm)
            .iter()
            .map(|b| {
                entry(
                    profile,
                    "authentik_policies",
                    "policybinding",
                    b.pk.to_string(),
                    state.policy_binding_name(&b.data),
                    "cascade",
                )
            })
            .collect(),
    )
}
