//! What the generic reconciler needs to know about a stage kind. Each kind contributes its
//! endpoint, its model name, which list fields compare as sets, and its references; the spec
//! to body mapping itself is generic (camelCase spec keys become snake_case body keys).

use crate::case::snake_case;
use crate::crd::refs::{By, Target};
use crate::crd::{StageCommon, StageStatus, common::COMMON_KEYS};
use kube::Resource;
use kube::core::NamespaceResourceScope;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Debug;

/// A reference field of a spec, with its value(s) as written.
#[derive(Clone, Debug, PartialEq)]
pub struct RefField {
    /// The spec key (camelCase).
    pub spec_field: &'static str,
    pub target: Target,
    /// `None`: the field is not set. `Some`: one entry per reference (one for a single
    /// reference, any number for a list); an entry is `None` when the reference is malformed.
    pub values: Option<Vec<Option<By>>>,
    pub many: bool,
}

impl RefField {
    pub fn one(spec_field: &'static str, target: Target, value: Option<Option<By>>) -> Self {
        RefField {
            spec_field,
            target,
            values: value.map(|v| vec![v]),
            many: false,
        }
    }

    pub fn many(spec_field: &'static str, target: Target, values: Option<Vec<Option<By>>>) -> Self {
        RefField {
            spec_field,
            target,
            values,
            many: true,
        }
    }
}

/// A stage custom resource kind.
pub trait Stage:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + kube::CustomResourceExt
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Path of the kind's endpoint under `/api/v3/`.
    const ENDPOINT: &'static str;
    /// `meta_model_name` authentik reports for this kind.
    const MODEL: &'static str;
    /// Body keys whose lists carry no order.
    const SET_FIELDS: &'static [&'static str];
    /// Body keys every PATCH must carry (from the spec, else from authentik's current value).
    const ALWAYS_SEND: &'static [&'static str];
    /// The kinds whose resources this kind's `ref` fields may name: their changes (a pk
    /// learnt) re-trigger the referrers, and the referrers' changes re-trigger them (a delete
    /// waits while it is referenced).
    const REFERENCES: &'static [&'static str] = &[];

    fn common(&self) -> &StageCommon;
    /// The spec as JSON (camelCase keys).
    fn spec_json(&self) -> Value;
    fn references(&self) -> Vec<RefField>;
    fn status(&self) -> Option<&StageStatus>;
    /// Checks the CRD schema cannot express or that a hand-installed CRD may have missed.
    fn check_spec(&self) -> Result<(), String> {
        Ok(())
    }

    /// The stage's name in authentik.
    fn authentik_name(&self) -> String {
        self.common()
            .name
            .clone()
            .unwrap_or_else(|| self.meta().name.clone().unwrap_or_default())
    }
}

/// The kind's name (`PasswordStage`), from the CRD derive: the one source of it, so no kind
/// can report itself under another's name.
pub fn kind_name<K: Stage>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(name) => name,
        // The derive names kinds with literals; an owned name would be a new kind of derive.
        std::borrow::Cow::Owned(name) => Box::leak(name.into_boxed_str()),
    }
}

/// Every field of an authentik body that the kind's spec can set, as the CRD's schema lists
/// the spec's properties (what [`desired_body`] may send; the common ones included).
pub fn body_fields<K: Stage>() -> Vec<String> {
    let crd = K::crd();
    let spec = crd
        .spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| s.properties.as_ref())
        .and_then(|p| p.get("spec"))
        .and_then(|s| s.properties.as_ref());
    spec.map(|p| p.keys().map(|k| snake_case(k)).collect())
        .unwrap_or_default()
}

/// The authentik body the spec asks for: only the fields the spec sets, references replaced
/// by the pks they resolved to (`resolved`: spec field → pk string or list of pk strings).
pub fn desired_body<K: Stage>(obj: &K, resolved: &BTreeMap<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("name".into(), Value::String(obj.authentik_name()));
    let ref_fields: Vec<&str> = obj.references().iter().map(|r| r.spec_field).collect();
    if let Value::Object(spec) = obj.spec_json() {
        for (key, value) in spec {
            if COMMON_KEYS.contains(&key.as_str()) || value.is_null() {
                continue;
            }
            let value = if ref_fields.contains(&key.as_str()) {
                match resolved.get(&key) {
                    Some(v) => v.clone(),
                    None => continue,
                }
            } else {
                value
            };
            body.insert(snake_case(&key), value);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_fields_are_the_specs_properties_in_snake_case() {
        let fields = body_fields::<crate::kinds::PasswordStage>();
        for f in [
            "name",
            "backends",
            "configure_flow",
            "failed_attempts_before_cancel",
        ] {
            assert!(fields.iter().any(|k| k == f), "{f} in {fields:?}");
        }
        assert!(!fields.iter().any(|k| k == "flow_set"));
    }
    use crate::kinds::UserLoginStage;
    use std::borrow::Cow;

    #[test]
    fn kind_names_come_from_the_derive_and_are_borrowed() {
        assert_eq!(kind_name::<PasswordStage>(), "PasswordStage");
        assert_eq!(kind_name::<IdentificationStage>(), "IdentificationStage");
        assert_eq!(kind_name::<UserLoginStage>(), "UserLoginStage");
        // Borrowed: kind_name never leaks.
        assert!(matches!(PasswordStage::kind(&()), Cow::Borrowed(_)));
        assert!(matches!(IdentificationStage::kind(&()), Cow::Borrowed(_)));
        assert!(matches!(UserLoginStage::kind(&()), Cow::Borrowed(_)));
    }

    use crate::kinds::{IdentificationStage, PasswordStage};
    use serde_json::json;

    fn password(spec: Value) -> PasswordStage {
        serde_json::from_value(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
            "metadata": {"name": "pw", "namespace": "ns"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn body_has_only_fields_the_spec_sets() {
        let pw = password(
            json!({"backends": ["authentik.core.auth.InbuiltBackend"], "deletionPolicy": "Orphan"}),
        );
        let body = desired_body(&pw, &BTreeMap::new());
        assert_eq!(
            Value::Object(body),
            json!({"name": "pw", "backends": ["authentik.core.auth.InbuiltBackend"]})
        );
    }

    #[test]
    fn name_from_spec_wins_over_metadata() {
        let pw = password(
            json!({"name": "login-password", "backends": [], "failedAttemptsBeforeCancel": 3}),
        );
        let body = desired_body(&pw, &BTreeMap::new());
        assert_eq!(body["name"], "login-password");
        assert_eq!(body["failed_attempts_before_cancel"], 3);
    }

    #[test]
    fn references_become_resolved_pks() {
        let id: IdentificationStage = serde_json::from_value(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
            "metadata": {"name": "id", "namespace": "ns"},
            "spec": {"userFields": ["email"], "passwordStage": {"ref": "pw"}, "sources": [{"slug": "a"}]}
        }))
        .unwrap();
        let mut resolved = BTreeMap::new();
        resolved.insert(
            "passwordStage".to_string(),
            json!("0b7a0c51-0000-4000-8000-000000000001"),
        );
        // sources unresolved: left out rather than sent as something wrong
        let body = desired_body(&id, &resolved);
        assert_eq!(
            body["password_stage"],
            "0b7a0c51-0000-4000-8000-000000000001"
        );
        assert!(!body.contains_key("sources"));
        assert_eq!(body["user_fields"], json!(["email"]));
    }
}
