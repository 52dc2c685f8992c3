//! The kinds of authentik object the operator manages, and their registry: the stage kinds,
//! flows and flow-stage bindings. A kind is its file here (the custom resource and its
//! [`Kind`] implementation), its `mod` and `pub use` below, and one line in [`each`];
//! everything per kind — its controllers and reference watches, identity claims, drift
//! sweeps, readiness, metrics labels, its CRD and the generated files — is driven from here,
//! so a kind cannot be half wired.

mod binding;
mod flow;
mod identification;
mod password;
mod user_login;

pub use binding::{BoundStage, FlowStageBinding, FlowStageBindingSpec, StageResource};
pub use flow::{Designation, Flow, FlowSpec};
pub use identification::{IdentificationStage, IdentificationStageSpec};
pub use password::{Backend, PasswordStage, PasswordStageSpec};
pub use user_login::{UserLoginStage, UserLoginStageSpec};

use crate::crd::kind::Kind;
use crate::crd::{AuthentikConnection, ClusterAuthentikConnection};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// Something done for each registered kind.
pub trait KindVisitor {
    fn visit<K: Kind>(&mut self);
}

/// Visits every registered kind, in the order they are listed everywhere.
pub fn each(v: &mut impl KindVisitor) {
    v.visit::<PasswordStage>();
    v.visit::<IdentificationStage>();
    v.visit::<UserLoginStage>();
    v.visit::<Flow>();
    v.visit::<FlowStageBinding>();
}

/// Where stage names are unique: every kind keyed there is a stage kind.
pub const STAGES: &str = "stages/all/";

/// The registered stage kinds (what a binding may bind).
pub fn stage_kinds() -> Vec<&'static str> {
    struct Names(Vec<&'static str>);
    impl KindVisitor for Names {
        fn visit<K: Kind>(&mut self) {
            if K::KEY_SCOPE == STAGES {
                self.0.push(crate::crd::kind::kind_name::<K>());
            }
        }
    }
    let mut names = Names(Vec::new());
    each(&mut names);
    names.0
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
            self.references.extend(K::referenced_kinds());
            // The guarded fields are body fields the spec can set.
            for field in K::GUARDED {
                assert!(kept.iter().any(|k| k == field), "{kind}: {field} guarded");
            }
        }
    }

    #[test]
    fn the_stage_kinds_are_those_keyed_by_stage_name() {
        assert_eq!(
            stage_kinds(),
            ["PasswordStage", "IdentificationStage", "UserLoginStage"]
        );
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
