//! References from one resource to other objects. Each is a one-of object with exactly one key,
//! enforced by a CEL rule so a manifest with two keys is refused at `kubectl apply`; what a
//! reference may point at, and how a natural key finds it in authentik, is its [`Target`].

use kube::KubeSchema;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::marker::PhantomData;

pub use super::target::{
    By, FLOW_SLUGS, GROUP_NAMES, KeyLookup, POLICY_NAMES, PROMPT_NAMES, SOURCE_SLUGS, STAGE_NAMES,
    Target, USERNAMES,
};

/// A UUID as authentik prints it.
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A reference to an object of one kind: a resource of that kind, its name in authentik, or
/// its pk (a stage of a given kind, a prompt).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(validation = Rule::new("[has(self.ref), has(self.name), has(self.pk)].filter(x, x).size() == 1").message("exactly one of ref, name or pk must be set"))]
pub struct NameRef {
    /// Name of a custom resource of the kind this field names, in the same namespace;
    /// resolved through its `status.pk`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub r#ref: Option<String>,
    /// The object's name in authentik.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// authentik primary key (UUID) of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = UUID_PATTERN))]
    pub pk: Option<String>,
}

/// A reference to a stage of one kind (see [`NameRef`]).
pub type StageRef = NameRef;

/// A reference to an authentik flow: a `Flow` resource, a slug or a pk.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(validation = Rule::new("[has(self.ref), has(self.slug), has(self.pk)].filter(x, x).size() == 1").message("exactly one of ref, slug or pk must be set"))]
pub struct FlowRef {
    /// Name of a `Flow` resource in the same namespace; resolved through its `status.pk`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub r#ref: Option<String>,
    /// The flow's slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[-a-zA-Z0-9_]+$"))]
    pub slug: Option<String>,
    /// authentik primary key (UUID) of the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = UUID_PATTERN))]
    pub pk: Option<String>,
}

/// A reference to an authentik source, by slug or pk.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(validation = Rule::new("[has(self.slug), has(self.pk)].filter(x, x).size() == 1").message("exactly one of slug or pk must be set"))]
pub struct SourceRef {
    /// The source's slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[-a-zA-Z0-9_]+$"))]
    pub slug: Option<String>,
    /// authentik primary key (UUID) of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = UUID_PATTERN))]
    pub pk: Option<String>,
}

/// A reference to an authentik group (groups are not resources of this operator).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(validation = Rule::new("[has(self.name), has(self.pk)].filter(x, x).size() == 1").message("exactly one of name or pk must be set"))]
pub struct GroupRef {
    /// The group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// authentik primary key (UUID) of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = UUID_PATTERN))]
    pub pk: Option<String>,
}

/// A reference to an authentik user (users are not resources of this operator).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(validation = Rule::new("[has(self.username), has(self.pk)].filter(x, x).size() == 1").message("exactly one of username or pk must be set"))]
pub struct UserRef {
    /// The user's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub username: Option<String>,
    /// authentik primary key of the user (a number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pk: Option<i64>,
}

/// A set of kinds a `ref: {kind, name}` may name: the registry knows which (see
/// `crate::kinds::ref_kinds`), so the CRD's enum follows the registered kinds.
pub trait KindSet {
    /// What the set is, for the schema's description ("a stage kind").
    const WHAT: &'static str;
    fn kinds() -> Vec<&'static str>;
}

/// A custom resource of one of the kinds of `S`, in the referrer's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(bound = "")]
pub struct KindedName<S> {
    pub kind: String,
    pub name: String,
    #[serde(skip)]
    pub set: PhantomData<fn() -> S>,
}

impl<S> KindedName<S> {
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        KindedName {
            kind: kind.into(),
            name: name.into(),
            set: PhantomData,
        }
    }
}

impl<S: KindSet> JsonSchema for KindedName<S> {
    fn schema_name() -> Cow<'static, str> {
        format!("KindedName_{}", S::WHAT.replace(' ', "_")).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": format!("A resource of {} in the same namespace; resolved through its `status.pk`.", S::WHAT),
            "required": ["kind", "name"],
            "properties": {
                "kind": {"type": "string", "enum": S::kinds(), "description": format!("The kind: {}.", S::WHAT)},
                "name": {"type": "string", "minLength": 1, "maxLength": 253, "description": "The resource's name."}
            }
        })
    }
}

/// A reference to an object of one of several kinds: a resource (`ref: {kind, name}`), its
/// name in authentik, or its pk.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(bound = "")]
pub struct KindedRef<S> {
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<KindedName<S>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pk: Option<String>,
}

impl<S: KindSet> JsonSchema for KindedRef<S> {
    fn schema_name() -> Cow<'static, str> {
        format!("KindedRef_{}", S::WHAT.replace(' ', "_")).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = json_schema!({
            "type": "object",
            "properties": {
                "ref": nullable(generator.subschema_for::<KindedName<S>>()),
                "name": {"type": "string", "nullable": true, "minLength": 1, "description": "The object's name in authentik."},
                "pk": {"type": "string", "nullable": true, "pattern": UUID_PATTERN, "description": "authentik primary key (UUID) of the object."}
            }
        });
        let rule = kube::core::Rule::new(
            "[has(self.ref), has(self.name), has(self.pk)].filter(x, x).size() == 1",
        )
        .message("exactly one of ref, name or pk must be set");
        // Only fails when the schema is not an object, which it is.
        let _ = kube::core::validate(&mut schema, rule);
        schema
    }
}

/// An optional field's schema, as the derive writes one (`nullable`).
fn nullable(mut schema: Schema) -> Schema {
    schema.insert("nullable".into(), true.into());
    schema
}

impl<S> KindedRef<S> {
    pub fn by(&self) -> Option<By> {
        one_of([
            self.r#ref
                .as_ref()
                .map(|r| By::KindRef(r.kind.clone(), r.name.clone())),
            self.name.clone().map(By::Name),
            self.pk.clone().map(By::Pk),
        ])
    }
}

/// What a policy binding binds to: a `Flow` or `FlowStageBinding` resource, or an object's
/// policy-binding pk.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(bound = "")]
pub struct TargetRef<S> {
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<KindedName<S>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pk: Option<String>,
}

impl<S: KindSet> JsonSchema for TargetRef<S> {
    fn schema_name() -> Cow<'static, str> {
        format!("TargetRef_{}", S::WHAT.replace(' ', "_")).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = json_schema!({
            "type": "object",
            "properties": {
                "ref": nullable(generator.subschema_for::<KindedName<S>>()),
                "pk": {"type": "string", "nullable": true, "pattern": UUID_PATTERN, "description": "authentik primary key (UUID) of the object."}
            }
        });
        let rule = kube::core::Rule::new("has(self.ref) != has(self.pk)")
            .message("exactly one of ref or pk must be set");
        let _ = kube::core::validate(&mut schema, rule);
        schema
    }
}

impl<S> TargetRef<S> {
    pub fn by(&self) -> Option<By> {
        one_of([
            self.r#ref
                .as_ref()
                .map(|r| By::KindRef(r.kind.clone(), r.name.clone())),
            self.pk.clone().map(By::Pk),
        ])
    }
}

impl NameRef {
    /// The one key set (the CRD guarantees exactly one; a hand-made object may break that).
    pub fn by(&self) -> Option<By> {
        one_of([
            self.r#ref.clone().map(By::Ref),
            self.name.clone().map(By::Name),
            self.pk.clone().map(By::Pk),
        ])
    }
}

impl FlowRef {
    pub fn by(&self) -> Option<By> {
        one_of([
            self.r#ref.clone().map(By::Ref),
            self.slug.clone().map(By::Slug),
            self.pk.clone().map(By::Pk),
        ])
    }
}

impl SourceRef {
    pub fn by(&self) -> Option<By> {
        one_of([self.slug.clone().map(By::Slug), self.pk.clone().map(By::Pk)])
    }
}

impl GroupRef {
    pub fn by(&self) -> Option<By> {
        one_of([self.name.clone().map(By::Name), self.pk.clone().map(By::Pk)])
    }
}

impl UserRef {
    pub fn by(&self) -> Option<By> {
        one_of([
            self.username.clone().map(By::Username),
            self.pk.map(|pk| By::Pk(pk.to_string())),
        ])
    }
}

/// The one reference form set among `options`; `None` for none or several.
pub fn one_of<const N: usize>(options: [Option<By>; N]) -> Option<By> {
    let mut set = options.into_iter().flatten();
    match (set.next(), set.next()) {
        (Some(by), None) => Some(by),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_key() {
        let r = StageRef {
            r#ref: Some("a".into()),
            name: None,
            pk: None,
        };
        assert_eq!(r.by(), Some(By::Ref("a".into())));
        let two = StageRef {
            r#ref: Some("a".into()),
            name: Some("b".into()),
            pk: None,
        };
        assert_eq!(two.by(), None);
        let none = FlowRef {
            r#ref: None,
            slug: None,
            pk: None,
        };
        assert_eq!(none.by(), None);
    }

    #[test]
    fn ref_key_is_spelled_ref() {
        let r: StageRef = serde_json::from_str(r#"{"ref":"pw"}"#).unwrap();
        assert_eq!(r.r#ref.as_deref(), Some("pw"));
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"ref":"pw"}"#);
    }

    struct Two;
    impl KindSet for Two {
        const WHAT: &'static str = "a test kind";
        fn kinds() -> Vec<&'static str> {
            vec!["A", "B"]
        }
    }

    #[test]
    fn a_kinded_ref_reads_its_kind_and_its_schema_lists_the_set() {
        let r: KindedRef<Two> = serde_json::from_str(r#"{"ref":{"kind":"B","name":"x"}}"#).unwrap();
        assert_eq!(r.by(), Some(By::KindRef("B".into(), "x".into())));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"ref":{"kind":"B","name":"x"}}"#
        );
        let schema = serde_json::to_value(schemars::schema_for!(KindedRef<Two>)).unwrap();
        assert_eq!(
            schema.pointer("/properties/ref/properties/kind/enum"),
            Some(&serde_json::json!(["A", "B"]))
        );
        assert!(
            schema.to_string().contains("x-kubernetes-validations"),
            "{schema}"
        );
    }

    #[test]
    fn natural_keys_go_through_the_targets_lookup() {
        let login = By::Slug("login".into());
        let (l, v) = Target::Flow.lookup_of(&login).unwrap();
        assert_eq!((l.endpoint, v), ("flows/instances/", "login"));
        assert!(Target::Flow.lookup_of(&By::Name("login".into())).is_none());
        let (l, _) = Target::Policy.lookup_of(&By::Name("p".into())).unwrap();
        assert_eq!((l.endpoint, l.param), ("policies/all/", "search"));
        assert!(
            Target::PolicyTarget
                .lookup_of(&By::Name("x".into()))
                .is_none()
        );
        assert_eq!(Target::User.pk_value("7"), serde_json::json!(7));
        assert_eq!(Target::Group.pk_value("7"), serde_json::json!("7"));
    }
}
