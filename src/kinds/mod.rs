//! The kinds of authentik object the operator manages, and their registry: the stage kinds,
//! flows and flow-stage bindings. A kind is its file here (the custom resource and its
//! [`Kind`] implementation), its `mod` and `pub use` below, and one line in [`each`];
//! everything per kind — its controllers and reference wake-ups, identity claims, drift
//! sweeps, readiness, metrics labels, its CRD and the generated files — is driven from here,
//! so a kind cannot be half wired.

mod authenticator_static;
mod authenticator_totp;
mod authenticator_validate;
mod authenticator_webauthn;
mod binding;
mod captcha;
mod consent;
mod deny;
mod email;
mod expression_policy;
mod flow;
mod identification;
mod invitation;
mod password;
mod password_policy;
mod policy_binding;
mod prompt;
mod prompt_stage;
mod redirect;
mod reputation_policy;
mod user_delete;
mod user_login;
mod user_logout;
mod user_write;

pub use authenticator_static::{AuthenticatorStaticStage, AuthenticatorStaticStageSpec};
pub use authenticator_totp::{AuthenticatorTOTPStage, AuthenticatorTOTPStageSpec};
pub use authenticator_validate::{AuthenticatorValidateStage, AuthenticatorValidateStageSpec};
pub use authenticator_webauthn::{AuthenticatorWebAuthnStage, AuthenticatorWebAuthnStageSpec};
pub use binding::{BoundStage, FlowStageBinding, FlowStageBindingSpec};
pub use captcha::{CaptchaStage, CaptchaStageSpec};
pub use consent::{ConsentStage, ConsentStageSpec};
pub use deny::{DenyStage, DenyStageSpec};
pub use email::{EmailStage, EmailStageSpec};
pub use expression_policy::{ExpressionPolicy, ExpressionPolicySpec};
pub use flow::{Designation, Flow, FlowSpec};
pub use identification::{IdentificationStage, IdentificationStageSpec};
pub use invitation::{InvitationStage, InvitationStageSpec};
pub use password::{Backend, PasswordStage, PasswordStageSpec};
pub use password_policy::{PasswordPolicy, PasswordPolicySpec};
pub use policy_binding::{PolicyBinding, PolicyBindingSpec};
pub use prompt::{Prompt, PromptSpec};
pub use prompt_stage::{PromptStage, PromptStageSpec};
pub use redirect::{RedirectStage, RedirectStageSpec};
pub use reputation_policy::{ReputationPolicy, ReputationPolicySpec};
pub use user_delete::{UserDeleteStage, UserDeleteStageSpec};
pub use user_login::{UserLoginStage, UserLoginStageSpec};
pub use user_logout::{UserLogoutStage, UserLogoutStageSpec};
pub use user_write::{UserWriteStage, UserWriteStageSpec};

use crate::crd::kind::Kind;
use crate::crd::refs::{By, KindSet, Target};
use crate::crd::{AuthentikConnection, ClusterAuthentikConnection};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// Something done for each registered kind.
pub trait KindVisitor {
    fn visit<K: Kind>(&mut self);
}

/// Visits every registered kind, in the order they are listed everywhere: what things are
/// made of before what refers to them (stages, prompts and policies, then flows, then
/// bindings), so that an export applies in order.
pub fn each(v: &mut impl KindVisitor) {
    v.visit::<PasswordStage>();
    v.visit::<IdentificationStage>();
    v.visit::<UserLoginStage>();
    v.visit::<AuthenticatorValidateStage>();
    v.visit::<AuthenticatorTOTPStage>();
    v.visit::<AuthenticatorWebAuthnStage>();
    v.visit::<AuthenticatorStaticStage>();
    v.visit::<PromptStage>();
    v.visit::<UserWriteStage>();
    v.visit::<UserLogoutStage>();
    v.visit::<UserDeleteStage>();
    v.visit::<ConsentStage>();
    v.visit::<DenyStage>();
    v.visit::<InvitationStage>();
    v.visit::<CaptchaStage>();
    v.visit::<EmailStage>();
    v.visit::<RedirectStage>();
    v.visit::<Prompt>();
    v.visit::<ExpressionPolicy>();
    v.visit::<PasswordPolicy>();
    v.visit::<ReputationPolicy>();
    v.visit::<Flow>();
    v.visit::<FlowStageBinding>();
    v.visit::<PolicyBinding>();
}

/// Where stage names are unique: every kind keyed there is a stage kind.
pub const STAGES: &str = "stages/all/";
/// Where policy names are unique: every kind keyed there is a policy kind.
pub const POLICIES: &str = "policies/all/";

/// The registered kinds whose names are unique in `scope`, in registry order.
fn kinds_in(scope: &'static str) -> Vec<&'static str> {
    struct Names(&'static str, Vec<&'static str>);
    impl KindVisitor for Names {
        fn visit<K: Kind>(&mut self) {
            if K::KEY_SCOPE == self.0 {
                self.1.push(crate::crd::kind::kind_name::<K>());
            }
        }
    }
    let mut names = Names(scope, Vec::new());
    each(&mut names);
    names.1
}

/// The registered stage kinds (what a binding may bind).
pub fn stage_kinds() -> Vec<&'static str> {
    kinds_in(STAGES)
}

/// The registered policy kinds (what a policy binding may bind).
pub fn policy_kinds() -> Vec<&'static str> {
    kinds_in(POLICIES)
}

/// The registered authenticator setup stages (what an MFA validation stage may offer).
pub const SETUP_STAGES: [&str; 3] = [
    "AuthenticatorTOTPStage",
    "AuthenticatorWebAuthnStage",
    "AuthenticatorStaticStage",
];

/// The kinds a `ref` of a reference to `target` may name.
pub fn ref_kinds(target: Target) -> Vec<&'static str> {
    match target {
        Target::AnyStage => stage_kinds(),
        Target::SetupStage => SETUP_STAGES.to_vec(),
        Target::Policy => policy_kinds(),
        Target::PolicyTarget => vec!["Flow", "FlowStageBinding"],
        other => other.custom_resource_kind().into_iter().collect(),
    }
}

/// The kinds whose resources `K`'s `ref` fields may name.
pub fn referenced_kinds<K: Kind>() -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = Vec::new();
    for r in K::REFS {
        for kind in ref_kinds(r.target) {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    kinds
}

/// The kinds of `ref: {kind, name}` references, as the CRDs enumerate them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnyStageKinds;
impl KindSet for AnyStageKinds {
    const WHAT: &'static str = "a stage kind";
    fn kinds() -> Vec<&'static str> {
        ref_kinds(Target::AnyStage)
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SetupStageKinds;
impl KindSet for SetupStageKinds {
    const WHAT: &'static str = "an authenticator setup stage kind";
    fn kinds() -> Vec<&'static str> {
        ref_kinds(Target::SetupStage)
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PolicyKinds;
impl KindSet for PolicyKinds {
    const WHAT: &'static str = "a policy kind";
    fn kinds() -> Vec<&'static str> {
        ref_kinds(Target::Policy)
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PolicyTargetKinds;
impl KindSet for PolicyTargetKinds {
    const WHAT: &'static str = "Flow or FlowStageBinding";
    fn kinds() -> Vec<&'static str> {
        ref_kinds(Target::PolicyTarget)
    }
}

/// A `ref: {kind, name}` of a kind outside what the field may name, for `check_spec` (a
/// CRD installed by hand may lack the enum).
pub fn check_ref_kind(field: &str, target: Target, by: Option<By>) -> Result<(), String> {
    match by {
        Some(By::KindRef(kind, _)) if !ref_kinds(target).contains(&kind.as_str()) => Err(format!(
            "spec.{field}.ref.kind: {kind:?} is not one of {}",
            ref_kinds(target).join(", ")
        )),
        _ => Ok(()),
    }
}

/// The CRDs of the registered kinds.
pub fn kind_crds() -> Vec<CustomResourceDefinition> {
    struct Crds(Vec<CustomResourceDefinition>);
    impl KindVisitor for Crds {
        fn visit<K: Kind>(&mut self) {
            self.0.push(K::crd());
        }
    }
    let mut crds = Crds(Vec::new());
    each(&mut crds);
    crds.0
}

/// Every CRD the operator serves: the registered kinds, then the connections.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut all = kind_crds();
    all.extend([
        <AuthentikConnection as kube::CustomResourceExt>::crd(),
        <ClusterAuthentikConnection as kube::CustomResourceExt>::crd(),
    ]);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caches::{Caches, Queues};
    use crate::crd::kind::kind_name;
    use crate::reconcile::kinds::{KindOps, KindRuntime};
    use std::collections::BTreeSet;

    /// What the registry knows of each kind, checked for completeness and clashes.
    #[derive(Default)]
    struct Walk {
        kinds: Vec<&'static str>,
        endpoints: Vec<&'static str>,
        models: Vec<&'static str>,
        references: Vec<&'static str>,
    }

    impl KindVisitor for Walk {
        fn visit<K: Kind>(&mut self) {
            let kind = kind_name::<K>();
            let crd = K::crd();
            assert_eq!(crd.spec.names.kind, kind, "the CRD names the kind");
            assert_eq!(crd.spec.names.plural, K::plural(&()), "{kind}: plural");
            assert!(
                crd.spec
                    .names
                    .categories
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|c| c == "authentik")),
                "{kind}: `kubectl get authentik` lists it"
            );
            assert!(K::ENDPOINT.ends_with('/') && K::KEY_SCOPE.ends_with('/'));
            assert!(!K::KEY.is_empty(), "{kind}: a key");
            // The runtime every part of the operator reaches the kind through.
            let ops = KindRuntime::<K> {
                caches: Caches::new(Vec::new()),
                queues: Queues::default(),
            };
            assert_eq!(ops.kind(), kind);
            // The snapshot keeps these fields of each stage: every one the spec can send.
            let kept = crate::crd::kind::body_fields::<K>();
            for field in K::SET_FIELDS.iter().chain(K::ALWAYS_SEND).chain(K::KEY) {
                assert!(kept.iter().any(|k| k == field), "{kind}: {field} not kept");
            }
            self.kinds.push(kind);
            self.endpoints.push(K::ENDPOINT);
            self.models.push(K::MODEL);
            self.references.extend(referenced_kinds::<K>());
            // The guarded fields are body fields the spec can set.
            for field in K::GUARDED {
                assert!(kept.iter().any(|k| k == field), "{kind}: {field} guarded");
            }
        }
    }

    #[test]
    fn the_stage_and_policy_kinds_are_those_keyed_by_their_scopes() {
        let stages = stage_kinds();
        assert_eq!(stages.len(), 17, "{stages:?}");
        assert!(stages.contains(&"CaptchaStage") && !stages.contains(&"Prompt"));
        assert_eq!(
            policy_kinds(),
            ["ExpressionPolicy", "PasswordPolicy", "ReputationPolicy"]
        );
        for setup in SETUP_STAGES {
            assert!(
                stages.contains(&setup),
                "{setup} is a registered stage kind"
            );
        }
    }

    /// Every `Target::Stage` of every kind names a registered kind with its own model.
    #[test]
    fn stage_targets_name_registered_kinds_by_their_models() {
        struct Models(Vec<(&'static str, &'static str)>, Vec<Target>);
        impl KindVisitor for Models {
            fn visit<K: Kind>(&mut self) {
                self.0.push((crate::crd::kind::kind_name::<K>(), K::MODEL));
                self.1.extend(K::REFS.iter().map(|r| r.target));
            }
        }
        let mut m = Models(Vec::new(), Vec::new());
        each(&mut m);
        for t in &m.1 {
            if let Target::Stage { kind, model } = t {
                assert!(m.0.contains(&(kind, model)), "{kind} with {model}");
            }
        }
    }

    #[test]
    fn every_registered_kind_is_whole_and_distinct() {
        let mut walk = Walk::default();
        each(&mut walk);
        let distinct = |v: &[&str]| v.iter().collect::<BTreeSet<_>>().len() == v.len();
        assert!(distinct(&walk.kinds), "{:?}", walk.kinds);
        assert!(distinct(&walk.endpoints), "{:?}", walk.endpoints);
        assert!(distinct(&walk.models), "{:?}", walk.models);
        for r in &walk.references {
            assert!(
                walk.kinds.contains(r),
                "a `ref` to {r}, which is not registered"
            );
        }
        let crds: Vec<String> = kind_crds().into_iter().map(|c| c.spec.names.kind).collect();
        assert_eq!(crds, walk.kinds, "one CRD per registered kind, in order");
    }
}
