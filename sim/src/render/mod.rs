//! Serializers: the JSON authentik renders for each object, per profile, in field order.
//! Stages, policies and prompts render from their kind tables (`objects.rs`); policy
//! bindings, groups and users in `links.rs`.

mod links;
mod objects;

pub use links::{group, policy_binding, user};
pub use objects::{obj, obj_used_by, used_by_binding};

use crate::bindings::Binding;
use crate::out::Out;
use crate::profile::Profile;
use crate::state::{Flow, Source, Stage, State};

/// authentik's default flow background.
pub const BACKGROUND: &str = "/static/dist/assets/images/flow_background.jpg";

fn s(v: &str) -> Out {
    Out::Str(v.to_string())
}

/// Which Python class a stage is rendered as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageClass {
    /// Its own subclass (what `select_subclasses()` loads).
    Kind,
    /// The base `Stage` model: what a binding's `stage_obj` shows right after a write that
    /// set `stage`, because the serializer's queryset loads plain `Stage` rows.
    Base,
}

/// `StageSerializer`'s fields: pk, name, component, verbose names, meta_model_name, flow_set.
pub(crate) fn stage_base(
    state: &State,
    profile: Profile,
    stage: &Stage,
    class: StageClass,
) -> Vec<(String, Out)> {
    let flow_set = state
        .flows_of_stage(stage.pk)
        .map(|f| flow_set_item(profile, f))
        .collect();
    let k = stage.kind;
    let (component, verbose, plural, meta) = match class {
        StageClass::Kind => (
            k.component(),
            k.verbose_name(),
            k.verbose_name_plural(),
            k.meta_model_name(profile),
        ),
        StageClass::Base => ("", "stage", "stages", "authentik_flows.stage".to_string()),
    };
    vec![
        ("pk".into(), Out::Str(stage.pk.to_string())),
        ("name".into(), s(&stage.name)),
        ("component".into(), s(component)),
        ("verbose_name".into(), s(verbose)),
        ("verbose_name_plural".into(), s(plural)),
        ("meta_model_name".into(), Out::Str(meta)),
        ("flow_set".into(), Out::Arr(flow_set)),
    ]
}

/// A stage as `/stages/all/` renders it (generic fields only).
pub fn stage_generic(state: &State, profile: Profile, stage: &Stage) -> Out {
    Out::Obj(stage_base(state, profile, stage, StageClass::Kind))
}

/// `FlowStageBindingSerializer` (`/flows/bindings/`).
pub fn binding(state: &State, profile: Profile, b: &Binding, class: StageClass) -> Out {
    let d = &b.data;
    let stage_obj = state.stages.get(&d.stage).map_or(Out::Null, |st| {
        Out::Obj(stage_base(state, profile, st, class))
    });
    Out::obj([
        ("pk", Out::Str(b.pk.to_string())),
        ("policybindingmodel_ptr_id", Out::Str(b.pbm.to_string())),
        ("target", Out::Str(d.target.to_string())),
        ("stage", Out::Str(d.stage.to_string())),
        ("stage_obj", stage_obj),
        ("evaluate_on_plan", Out::Bool(d.evaluate_on_plan)),
        ("re_evaluate_policies", Out::Bool(d.re_evaluate_policies)),
        ("order", Out::Int(d.order)),
        ("policy_engine_mode", s(&d.policy_engine_mode)),
        ("invalid_response_action", s(&d.invalid_response_action)),
    ])
}

/// `FlowSetSerializer`: the flows in a stage's `flow_set`.
pub fn flow_set_item(profile: Profile, f: &Flow) -> Out {
    let background_key = if profile == Profile::Current {
        "background_url"
    } else {
        "background"
    };
    Out::obj([
        ("pk", Out::Str(f.pk.to_string())),
        ("policybindingmodel_ptr_id", Out::Str(f.pbm.to_string())),
        ("name", s(&f.name)),
        ("slug", s(&f.slug)),
        ("title", s(&f.title)),
        ("designation", s(&f.designation)),
        (background_key, s(BACKGROUND)),
        ("policy_engine_mode", s(&f.policy_engine_mode)),
        ("compatibility_mode", Out::Bool(f.compatibility_mode)),
        (
            "export_url",
            Out::Str(format!("/api/v3/flows/instances/{}/export/", f.slug)),
        ),
        ("layout", s(&f.layout)),
        ("denied_action", s(&f.denied_action)),
    ])
}

/// `FlowSerializer` (`/flows/instances/`).
pub fn flow(state: &State, profile: Profile, f: &Flow) -> Out {
    let stages = state
        .stages_of_flow(f.pk)
        .into_iter()
        .map(|pk| Out::Str(pk.to_string()))
        .collect();
    let mut pairs: Vec<(String, Out)> = vec![
        ("pk".into(), Out::Str(f.pk.to_string())),
        (
            "policybindingmodel_ptr_id".into(),
            Out::Str(f.pbm.to_string()),
        ),
        ("name".into(), s(&f.name)),
        ("slug".into(), s(&f.slug)),
        ("title".into(), s(&f.title)),
        ("designation".into(), s(&f.designation)),
    ];
    if profile == Profile::Current {
        pairs.push(("background".into(), s(&f.background)));
        pairs.push(("background_url".into(), s(BACKGROUND)));
        pairs.push(("background_themed_urls".into(), Out::Null));
    } else {
        // Up to 2025.10 `background` was a read-only field holding the URL.
        pairs.push(("background".into(), s(BACKGROUND)));
    }
    pairs.extend([
        ("stages".into(), Out::Arr(stages)),
        ("policies".into(), Out::Arr(flow_policies(state, f))),
        ("cache_count".into(), Out::Int(0)),
        ("policy_engine_mode".into(), s(&f.policy_engine_mode)),
        ("compatibility_mode".into(), Out::Bool(f.compatibility_mode)),
        (
            "export_url".into(),
            Out::Str(format!("/api/v3/flows/instances/{}/export/", f.slug)),
        ),
        ("layout".into(), s(&f.layout)),
        ("denied_action".into(), s(&f.denied_action)),
        ("authentication".into(), s(&f.authentication)),
    ]);
    Out::Obj(pairs)
}

/// A flow's `policies`: the policies bound to it, once per binding.
fn flow_policies(state: &State, f: &Flow) -> Vec<Out> {
    state
        .policy_bindings
        .of_target(f.pbm)
        .iter()
        .filter_map(|b| b.data.policy)
        .map(|p| Out::Str(p.to_string()))
        .collect()
}

/// `SourceSerializer` (`/sources/all/`), for the base `Source` model.
pub fn source(profile: Profile, src: &Source) -> Out {
    let current = profile == Profile::Current;
    let mut pairs: Vec<(String, Out)> = vec![
        ("pk".into(), Out::Str(src.pk.to_string())),
        ("name".into(), s(&src.name)),
        ("slug".into(), s(&src.slug)),
        ("enabled".into(), Out::Bool(src.enabled)),
    ];
    if current {
        pairs.push(("promoted".into(), Out::Bool(false)));
    }
    pairs.push(("authentication_flow".into(), Out::Null));
    pairs.push(("enrollment_flow".into(), Out::Null));
    if current {
        pairs.push(("user_property_mappings".into(), Out::Arr(Vec::new())));
        pairs.push(("group_property_mappings".into(), Out::Arr(Vec::new())));
    }
    pairs.extend([
        ("component".into(), s("")),
        // The base model's verbose names are lower case (the fresh-install dumps).
        ("verbose_name".into(), s("source")),
        ("verbose_name_plural".into(), s("sources")),
        ("meta_model_name".into(), s("authentik_core.source")),
        ("policy_engine_mode".into(), s("any")),
        ("user_matching_mode".into(), s("identifier")),
        ("managed".into(), Out::from(src.managed.clone())),
        ("user_path_template".into(), s(&src.user_path_template)),
    ]);
    if current {
        pairs.push(("icon".into(), s("")));
        pairs.push(("icon_url".into(), Out::Null));
        pairs.push(("icon_themed_urls".into(), Out::Null));
    } else if profile >= Profile::V2024_4 {
        pairs.push(("icon".into(), Out::Null));
    }
    Out::Obj(pairs)
}

/// `/api/v3/admin/version/`.
pub fn version(profile: Profile) -> Out {
    let v = profile.version();
    let mut pairs = vec![("version_current", s(v)), ("version_latest", s(v))];
    if profile >= Profile::V2024_4 {
        pairs.push(("version_latest_valid", Out::Bool(true)));
    }
    pairs.push(("build_hash", s("")));
    pairs.push(("outdated", Out::Bool(false)));
    if profile == Profile::Current {
        pairs.push(("outpost_outdated", Out::Bool(false)));
    }
    Out::obj(pairs)
}
