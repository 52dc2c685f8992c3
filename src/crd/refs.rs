//! References from one stage to other objects. Each is a one-of object with exactly one key,
//! enforced by a CEL rule so a manifest with two keys is refused at `kubectl apply`.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A UUID as authentik prints it.
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A reference to another stage.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(validation = Rule::new("[has(self.ref), has(self.name), has(self.pk)].filter(x, x).size() == 1").message("exactly one of ref, name or pk must be set"))]
pub struct StageRef {
    /// Name of a custom resource of the right kind in the same namespace; resolved through
    /// its `status.pk`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub r#ref: Option<String>,
    /// Name of an existing authentik stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// authentik primary key (UUID) of the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = UUID_PATTERN))]
    pub pk: Option<String>,
}

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

/// What authentik object a reference points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    PasswordStage,
    CaptchaStage,
    AuthenticatorValidateStage,
    /// A stage of any kind (what a binding binds); a `ref` names the kind.
    AnyStage,
    Flow,
    Source,
}

impl Target {
    /// `meta_model_name` authentik reports for stages of this kind (None for non-stages).
    pub fn stage_model(self) -> Option<&'static str> {
        match self {
            Target::PasswordStage => Some("authentik_stages_password.passwordstage"),
            Target::CaptchaStage => Some("authentik_stages_captcha.captchastage"),
            Target::AuthenticatorValidateStage => {
                Some("authentik_stages_authenticator_validate.authenticatorvalidatestage")
            }
            Target::AnyStage | Target::Flow | Target::Source => None,
        }
    }

    /// Whether a name lookup in `stages/all/` may find the target (any stage kind, or the
    /// one this field needs).
    pub fn is_stage(self) -> bool {
        !matches!(self, Target::Flow | Target::Source)
    }

    /// The custom resource kind a plain `ref` names, if we manage that kind.
    pub fn custom_resource_kind(self) -> Option<&'static str> {
        match self {
            Target::PasswordStage => Some("PasswordStage"),
            Target::Flow => Some("Flow"),
            _ => None,
        }
    }
}

/// One way of pointing at an object, whatever the reference type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum By {
    /// A custom resource in the same namespace, of the kind the field names.
    Ref(String),
    /// A custom resource in the same namespace, of the kind given (kind, name).
    KindRef(String, String),
    /// A stage's name in authentik.
    Name(String),
    /// A flow's or source's slug.
    Slug(String),
    /// The authentik primary key.
    Pk(String),
}

impl std::fmt::Display for By {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            By::Ref(v) => write!(f, "ref {v:?}"),
            By::KindRef(k, v) => write!(f, "ref {k} {v:?}"),
            By::Name(v) => write!(f, "name {v:?}"),
            By::Slug(v) => write!(f, "slug {v:?}"),
            By::Pk(v) => write!(f, "pk {v}"),
        }
    }
}

impl StageRef {
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
}
