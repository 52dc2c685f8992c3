//! What the generic reconciler needs to know about a kind. Each kind contributes its
//! endpoint, its model name, how authentik identifies its objects, which list fields compare
//! as sets, and its references; the spec to body mapping itself is generic (camelCase spec
//! keys become snake_case body keys, or the body key the kind renames them to).

use crate::case::snake_case;
use crate::crd::refs::{By, Target};
use crate::crd::{Policies, StageStatus, common::POLICY_KEYS};
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

    /// The resources of `kind` (in the referrer's namespace) this field names by `ref`.
    pub fn refs_to<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let plain = self.target.custom_resource_kind() == Some(kind);
        self.values
            .iter()
            .flatten()
            .flatten()
            .filter_map(move |by| match by {
                By::Ref(name) if plain => Some(name.as_str()),
                By::KindRef(k, name) if k == kind => Some(name.as_str()),
                _ => None,
            })
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

/// A reference field of a kind's spec: its spec key, what it points at, and whether it is a
/// list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSpec {
    pub field: &'static str,
    pub target: Target,
    pub many: bool,
}

impl RefSpec {
    pub const fn one(field: &'static str, target: Target) -> Self {
        RefSpec {
            field,
            target,
            many: false,
        }
    }

    pub const fn many(field: &'static str, target: Target) -> Self {
        RefSpec {
            field,
            target,
            many: true,
        }
    }
}

/// How authentik's URLs name an object of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// By pk (`stages/password/<pk>/`).
    Pk,
    /// By slug (`flows/instances/<slug>/`; a pk there is a 404). An object is found by pk
    /// through the list filter `pk_filter`.
    Slug { pk_filter: &'static str },
}

/// A kind of authentik object this operator manages as a custom resource: the stage kinds,
/// flows and flow-stage bindings. The reconciler is generic over it.
pub trait Kind:
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
    /// What its objects are called in messages.
    const NOUN: &'static str = "stage";
    /// The body fields that identify an object in authentik, unique together: a stage's
    /// `name` (across every stage kind), a flow's `slug`, a binding's flow, stage and order.
    const KEY: &'static [&'static str] = &["name"];
    /// The endpoint that lists every object whose key may clash with this kind's (stage
    /// names are unique across the stage kinds).
    const KEY_SCOPE: &'static str = "stages/all/";
    /// How URLs name an object.
    const LOOKUP: Lookup = Lookup::Pk;
    /// The ordering that pages the kind's list stably.
    const ORDERING: &'static str = "name";
    /// Spec keys sent under another body key (spec key, body key).
    const RENAMED: &'static [(&'static str, &'static str)] = &[];
    /// Body keys whose lists carry no order.
    const SET_FIELDS: &'static [&'static str];
    /// Body keys every PATCH must carry (from the spec, else from authentik's current value).
    const ALWAYS_SEND: &'static [&'static str];
    /// Why two resources must not claim one identity, for the message that refuses one.
    const UNIQUENESS: &'static str = "authentik stage names are unique across all stage kinds";
    /// Body keys the operator changes on a live object only when the resource says so with
    /// [`ALLOW_GUARDED_ANNOTATION`] (a flow's designation changes what the flow does).
    const GUARDED: &'static [&'static str] = &[];
    /// Key fields the kind's list endpoint cannot filter on: a lookup by key sends the others
    /// as filters and matches these in each answer (a policy binding's `target` filter takes
    /// another id than the pk its answers show; there is no `group` or `user` filter).
    const UNFILTERED_KEY: &'static [&'static str] = &[];
    /// Body keys of which the spec sets exactly one (a policy binding binds a policy, a group
    /// or a user): the others are sent as null, so that switching from one to another clears
    /// the old one.
    const ONE_OF: &'static [&'static str] = &[];
    /// Write-only fields authentik never returns (an SMTP password, a captcha's private key):
    /// (spec key of the Secret reference, body key). The value comes from a Secret, is never
    /// compared, and is sent on create and whenever the Secret's value changes.
    const SECRETS: &'static [(&'static str, &'static str)] = &[];
    /// Fields older releases store in another form (body key, the first release that takes
    /// the spec's form, and how to write the value for releases before it).
    const LEGACY_FORMS: &'static [LegacyForm] = &[];
    /// Spec keys holding authentik durations (`hours=1;minutes=30`): checked as authentik
    /// checks them (the CRD's CEL rule does the same at `kubectl apply`).
    const DURATIONS: &'static [&'static str] = &[];

    /// The spec's reference fields and what each points at; their values are read from the
    /// spec (see [`Kind::references`]). The kinds a `ref` among them may name are
    /// `crate::kinds::referenced_kinds`: their changes (a pk learnt) re-trigger the referrers,
    /// and the referrers' changes re-trigger them (a delete waits while it is referenced).
    const REFS: &'static [RefSpec] = &[];
    /// Reference fields naming objects whose status shows this one (a stage's `boundTo`
    /// lists the flows of its bindings): a write of this object refreshes theirs at once,
    /// not at the next sweep, which the event log lets wait ten minutes.
    const SHOWN_ON: &'static [&'static str] = &[];

    fn policies(&self) -> &Policies;
    /// The spec's value of the kind's one key field, if it sets one (a stage's `name`, a
    /// flow's `slug`); `metadata.name` stands in when it does not.
    fn spec_key(&self) -> Option<&str>;
    /// The spec as JSON (camelCase keys).
    fn spec_json(&self) -> Value;
    /// The reference fields with their values as written, from [`Kind::REFS`].
    fn references(&self) -> Vec<RefField> {
        let spec = self.spec_json();
        Self::REFS
            .iter()
            .map(|r| {
                let values = spec.get(r.field).filter(|v| !v.is_null()).map(|v| match v {
                    Value::Array(items) => items.iter().map(By::from_json).collect(),
                    one => vec![By::from_json(one)],
                });
                RefField {
                    spec_field: r.field,
                    target: r.target,
                    values,
                    many: r.many,
                }
            })
            .collect()
    }
    fn status(&self) -> Option<&StageStatus>;
    /// Checks the CRD schema cannot express or that a hand-installed CRD may have missed.
    fn check_spec(&self) -> Result<(), String> {
        Ok(())
    }

    /// The object with key `key`, for messages (`stage named "login"`).
    fn describe_key(key: &str) -> String {
        format!("{} named {key:?}", Self::NOUN)
    }

    /// The object with [`Kind::identity`] `identity`, for messages.
    fn describe_identity(identity: &str) -> String {
        Self::describe_key(identity)
    }

    /// The object's identity as the spec writes it: for a kind keyed by one field, its value
    /// in authentik (a stage's name, a flow's slug); for a binding, its references and order
    /// as written (what two resources must not both claim).
    fn identity(&self) -> String {
        self.spec_key()
            .map(str::to_string)
            .unwrap_or_else(|| self.meta().name.clone().unwrap_or_default())
    }
}

/// Every check of a spec beyond the CRD's schema: the durations, then the kind's own
/// [`Kind::check_spec`].
pub fn check<K: Kind>(obj: &K) -> Result<(), String> {
    let spec = obj.spec_json();
    for field in K::DURATIONS {
        if let Some(v) = spec.get(*field).and_then(Value::as_str) {
            crate::crd::duration::validate(v).map_err(|e| format!("spec.{field}: {e}"))?;
        }
    }
    obj.check_spec()
}

/// The annotation that lets the operator change a [`Kind::GUARDED`] field of a live object.
pub const ALLOW_GUARDED_ANNOTATION: &str = "authentik-operator.io/allow-guarded-changes";

/// A field an older release stores in another form than the spec writes it (an email stage's
/// `token_expiry`: whole minutes before, a duration string since).
#[derive(Clone, Copy, Debug)]
pub struct LegacyForm {
    pub field: &'static str,
    /// The first release (year, minor) that takes the spec's form.
    pub since: (u32, u32),
    /// The value as releases before `since` take it; `Err` says why it cannot be written so.
    pub encode: fn(&Value) -> Result<Value, String>,
}

/// A stage of kind `K` as a reference target.
pub fn stage_target<K: Kind>() -> Target {
    Target::Stage {
        kind: kind_name::<K>(),
        model: K::MODEL,
    }
}

/// An object's key in authentik from its body: the [`Kind::KEY`] fields' values joined
/// with `/` (none of a multi-field key's values holds one: they are pks and numbers). In a
/// multi-field key a null is an empty part (a policy binding binds one of a policy, a group
/// or a user).
pub fn key_text(key: &[&str], body: &Map<String, Value>) -> Option<String> {
    let parts: Option<Vec<String>> = key
        .iter()
        .map(|f| match body.get(*f)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Null if key.len() > 1 => Some(String::new()),
            _ => None,
        })
        .collect();
    Some(parts?.join("/"))
}

/// The list filters that narrow a list to the object with key `text`: every key field the
/// list can filter on, with a value (the answers are then matched on the whole key).
pub fn key_query(
    key: &[&'static str],
    unfiltered: &[&str],
    text: &str,
) -> Vec<(&'static str, String)> {
    if let [one] = key {
        return vec![(one, text.to_string())];
    }
    key.iter()
        .zip(text.splitn(key.len(), '/'))
        .filter(|(f, v)| !v.is_empty() && !unfiltered.contains(*f))
        .map(|(f, v)| (*f, v.to_string()))
        .collect()
}

/// The body key a spec key is sent as.
pub fn body_key<K: Kind>(spec_key: &str) -> String {
    K::RENAMED
        .iter()
        .find(|(s, _)| *s == spec_key)
        .map_or_else(|| snake_case(spec_key), |(_, b)| b.to_string())
}

/// The kind's name (`PasswordStage`), from the CRD derive: the one source of it, so no kind
/// can report itself under another's name.
pub fn kind_name<K: Kind>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(name) => name,
        // The derive names kinds with literals; an owned name would be a new kind of derive.
        std::borrow::Cow::Owned(name) => Box::leak(name.into_boxed_str()),
    }
}

/// Every field of an authentik body that the kind's spec can set, as the CRD's schema lists
/// the spec's properties (what [`desired_body`] may send; the common ones included).
pub fn body_fields<K: Kind>() -> Vec<String> {
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
    spec.map(|p| {
        p.keys()
            .filter(|k| !POLICY_KEYS.contains(&k.as_str()))
            .map(|k| {
                K::SECRETS
                    .iter()
                    .find(|(s, _)| s == k)
                    .map_or_else(|| body_key::<K>(k), |(_, b)| b.to_string())
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The authentik body the spec asks for: only the fields the spec sets, references replaced
/// by the pks they resolved to (`resolved`: spec field → pk string or list of pk strings).
pub fn desired_body<K: Kind>(obj: &K, resolved: &BTreeMap<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    let ref_fields: Vec<&str> = obj.references().iter().map(|r| r.spec_field).collect();
    if let Value::Object(spec) = obj.spec_json() {
        for (key, value) in spec {
            // Secret references are not body fields: their values are added by the
            // reconcile, which reads the Secrets.
            let secret = K::SECRETS.iter().any(|(s, _)| *s == key);
            if POLICY_KEYS.contains(&key.as_str()) || value.is_null() || secret {
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
            body.insert(body_key::<K>(&key), value);
        }
    }
    // A one-field key defaults to the resource's name.
    if let [key] = K::KEY {
        body.insert(key.to_string(), Value::String(obj.identity()));
    }
    for key in K::ONE_OF {
        body.entry(key.to_string()).or_insert(Value::Null);
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
