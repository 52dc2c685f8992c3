//! What `export` and `plan` need of each registered kind, gathered once from
//! [`crate::kinds::each`] into plain values and function pointers, so that the commands
//! themselves hold no per-kind code: a new kind shows up here by being registered.

use crate::crd::common::POLICY_KEYS;
use crate::crd::kind::{Kind, RefField, body_key, desired_body, kind_name};
use crate::kinds::{KindVisitor, STAGES, each};
use crate::reconcile::diff::{Shape, shape};
use kube::ResourceExt;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A manifest turned into what the reconciler would work from.
pub struct Desire {
    /// The body the spec asks for, references resolved as given.
    pub body: Map<String, Value>,
    pub policies: crate::crd::Policies,
    pub guarded_allowed: bool,
    /// The identity as the spec writes it (what two resources must not both claim).
    pub claim: crate::reconcile::naming::Claim,
}

/// One registered kind, as the commands see it.
#[derive(Clone)]
pub struct KindInfo {
    pub kind: &'static str,
    pub api_version: String,
    pub plural: String,
    pub endpoint: &'static str,
    pub ordering: &'static str,
    pub key: &'static [&'static str],
    pub key_scope: &'static str,
    /// Objects of this kind are stages (their names are unique across the stage kinds).
    pub is_stage: bool,
    /// What the kind's reference fields point at.
    pub ref_targets: Vec<crate::crd::refs::Target>,
    pub shape: Shape,
    /// The spec's properties (policies left out): spec key → its schema, as JSON.
    pub spec_props: BTreeMap<String, Value>,
    /// The whole object's schema (the CRD's `openAPIV3Schema`), as JSON.
    pub schema: Value,
    pub body_key: fn(&str) -> String,
    pub describe_key: fn(&str) -> String,
    pub describe_identity: fn(&str) -> String,
    /// Why two resources must not claim one identity.
    pub uniqueness: &'static str,
    /// The reference fields of an object (given as JSON), with their targets.
    pub references: fn(&Value) -> Result<Vec<RefField>, String>,
    /// Reads the object as the kind's type and runs its own checks (`check_spec`).
    pub check: fn(&Value) -> Result<(), String>,
    /// The object as YAML, fields in the order the kind declares them.
    pub to_yaml: fn(&Value) -> Result<String, String>,
    /// The desired body and what the reconciler decides from, given resolved references.
    pub desire: fn(&Value, &BTreeMap<String, Value>) -> Result<Desire, String>,
}

impl KindInfo {
    /// The spec key a body key comes from.
    pub fn spec_key(&self, body: &str) -> Option<&str> {
        self.spec_props
            .keys()
            .find(|k| (self.body_key)(k) == body)
            .map(String::as_str)
    }
}

fn typed<K: Kind>(obj: &Value) -> Result<K, String> {
    serde_json::from_value(obj.clone()).map_err(|e| e.to_string())
}

fn references<K: Kind>(obj: &Value) -> Result<Vec<RefField>, String> {
    Ok(typed::<K>(obj)?.references())
}

fn check<K: Kind>(obj: &Value) -> Result<(), String> {
    crate::crd::kind::check(&typed::<K>(obj)?)
}

fn to_yaml<K: Kind>(obj: &Value) -> Result<String, String> {
    let typed = typed::<K>(obj)?;
    serde_saphyr::to_string(&typed).map_err(|e| e.to_string())
}

fn desire<K: Kind>(obj: &Value, resolved: &BTreeMap<String, Value>) -> Result<Desire, String> {
    let typed = typed::<K>(obj)?;
    Ok(Desire {
        body: desired_body(&typed, resolved),
        policies: typed.policies().clone(),
        guarded_allowed: typed
            .annotations()
            .get(crate::crd::kind::ALLOW_GUARDED_ANNOTATION)
            .is_some_and(|v| v == "true"),
        claim: crate::reconcile::naming::claim_of(&typed),
    })
}

fn info<K: Kind>() -> KindInfo {
    let crd = K::crd();
    let schema = crd
        .spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null);
    let spec_props = schema
        .pointer("/properties/spec/properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(k, _)| !POLICY_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    KindInfo {
        kind: kind_name::<K>(),
        api_version: K::api_version(&()).into_owned(),
        plural: K::plural(&()).into_owned(),
        endpoint: K::ENDPOINT,
        ordering: K::ORDERING,
        key: K::KEY,
        key_scope: K::KEY_SCOPE,
        is_stage: K::KEY_SCOPE == STAGES,
        ref_targets: K::REFS.iter().map(|r| r.target).collect(),
        shape: shape::<K>(),
        spec_props,
        schema,
        body_key: body_key::<K>,
        describe_key: K::describe_key,
        describe_identity: K::describe_identity,
        uniqueness: K::UNIQUENESS,
        references: references::<K>,
        check: check::<K>,
        to_yaml: to_yaml::<K>,
        desire: desire::<K>,
    }
}

/// Every registered kind, in the registry's order.
pub fn kinds() -> Vec<KindInfo> {
    struct Collect(Vec<KindInfo>);
    impl KindVisitor for Collect {
        fn visit<K: Kind>(&mut self) {
            self.0.push(info::<K>());
        }
    }
    let mut all = Collect(Vec::new());
    each(&mut all);
    all.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_kind_is_described_with_its_spec_fields() {
        let all = kinds();
        let names: Vec<&str> = all.iter().map(|k| k.kind).collect();
        assert_eq!(names.len(), crate::kinds::kind_crds().len());
        for k in &all {
            assert!(!k.spec_props.is_empty(), "{}", k.kind);
            assert!(!k.spec_props.contains_key("adoptionPolicy"));
            assert!(k.schema.pointer("/properties/spec").is_some());
        }
        let binding = all
            .iter()
            .find(|k| k.key.len() > 1)
            .expect("a multi-field key");
        // A renamed spec key maps back from its body key.
        for (spec, body) in binding.shape.renamed {
            assert_eq!(binding.spec_key(body), Some(*spec));
        }
    }
}
