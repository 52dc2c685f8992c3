//! What a reference points at in authentik ([`Target`]), how a natural key finds it there
//! ([`KeyLookup`]), and the one way a reference names it ([`By`]).

use super::refs::one_of;

/// How objects of a target are found by a natural key: a list filter on an endpoint, checked
/// against a field of each answer (authentik ignores unknown filters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyLookup {
    pub endpoint: &'static str,
    /// The field holding the key in each object.
    pub field: &'static str,
    /// The list filter that narrows the list to it (`search` where the endpoint has no
    /// filter on the field itself).
    pub param: &'static str,
    /// An ordering that pages the endpoint stably.
    pub ordering: &'static str,
    /// The reference key that names it (`name`, `slug`, `username`).
    pub by: &'static str,
}

const fn key_lookup(
    endpoint: &'static str,
    field: &'static str,
    param: &'static str,
    by: &'static str,
) -> KeyLookup {
    KeyLookup {
        endpoint,
        field,
        param,
        ordering: field,
        by,
    }
}

/// Where stage names are unique: every stage kind.
pub const STAGE_NAMES: KeyLookup = key_lookup("stages/all/", "name", "name", "name");
pub const FLOW_SLUGS: KeyLookup = key_lookup("flows/instances/", "slug", "slug", "slug");
pub const SOURCE_SLUGS: KeyLookup = key_lookup("sources/all/", "slug", "slug", "slug");
pub const PROMPT_NAMES: KeyLookup = key_lookup("stages/prompt/prompts/", "name", "name", "name");
pub const GROUP_NAMES: KeyLookup = key_lookup("core/groups/", "name", "name", "name");
pub const USERNAMES: KeyLookup = key_lookup("core/users/", "username", "username", "username");
/// `policies/all/` filters by `search` only (on the name, among others).
pub const POLICY_NAMES: KeyLookup = key_lookup("policies/all/", "name", "search", "name");

/// What authentik object a reference points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A stage of one registered kind (`kind`, whose objects report `model`): a plain `ref`
    /// names a resource of that kind, and a `name` must find a stage of it.
    Stage {
        kind: &'static str,
        model: &'static str,
    },
    /// A stage of any kind (what a flow-stage binding binds); a `ref` names the kind.
    AnyStage,
    /// An authenticator setup stage (what an MFA validation stage offers to configure); a
    /// `ref` names the kind, a `name` may find a setup stage of a kind not managed here.
    SetupStage,
    Flow,
    Source,
    Prompt,
    Group,
    User,
    /// A policy of any kind; a `ref` names the kind.
    Policy,
    /// What a policy binding binds to: a flow or a flow-stage binding.
    PolicyTarget,
}

impl Target {
    /// The custom resource kind a plain `ref` names, if we manage that kind.
    pub fn custom_resource_kind(self) -> Option<&'static str> {
        match self {
            Target::Stage { kind, .. } => Some(kind),
            Target::Flow => Some("Flow"),
            Target::Prompt => Some("Prompt"),
            _ => None,
        }
    }

    /// Whether a name lookup in `stages/all/` may find the target.
    pub fn is_stage(self) -> bool {
        matches!(
            self,
            Target::Stage { .. } | Target::AnyStage | Target::SetupStage
        )
    }

    /// The `meta_model_name` a looked-up object must report (a stage of one kind).
    pub fn model(self) -> Option<&'static str> {
        match self {
            Target::Stage { model, .. } => Some(model),
            _ => None,
        }
    }

    /// How a natural key finds the target in authentik, if it has one.
    pub fn lookup(self) -> Option<KeyLookup> {
        match self {
            Target::Stage { .. } | Target::AnyStage | Target::SetupStage => Some(STAGE_NAMES),
            Target::Flow => Some(FLOW_SLUGS),
            Target::Source => Some(SOURCE_SLUGS),
            Target::Prompt => Some(PROMPT_NAMES),
            Target::Group => Some(GROUP_NAMES),
            Target::User => Some(USERNAMES),
            Target::Policy => Some(POLICY_NAMES),
            Target::PolicyTarget => None,
        }
    }

    /// The lookup a natural-key reference `by` goes through, and the key's value; `None` when
    /// `by` is no way to name this target (a slug for a stage).
    pub fn lookup_of(self, by: &By) -> Option<(KeyLookup, &str)> {
        let lookup = self.lookup()?;
        let value = match by {
            By::Name(v) if lookup.by == "name" => v,
            By::Slug(v) if lookup.by == "slug" => v,
            By::Username(v) if lookup.by == "username" => v,
            _ => return None,
        };
        Some((lookup, value))
    }

    /// What messages call the target.
    pub fn noun(self) -> &'static str {
        match self {
            Target::Stage { .. } | Target::AnyStage => "stage",
            Target::SetupStage => "setup stage",
            Target::Flow => "flow",
            Target::Source => "source",
            Target::Prompt => "prompt",
            Target::Group => "group",
            Target::User => "user",
            Target::Policy => "policy",
            Target::PolicyTarget => "flow or flow-stage binding",
        }
    }

    /// A resolved pk as authentik's bodies hold it (users have numeric pks).
    pub fn pk_value(self, pk: &str) -> serde_json::Value {
        match (self, pk.parse::<i64>()) {
            (Target::User, Ok(n)) => serde_json::Value::from(n),
            _ => serde_json::Value::String(pk.to_string()),
        }
    }

    /// Every target (for what the export must be able to name).
    pub const ALL_LOOKUPS: [KeyLookup; 7] = [
        STAGE_NAMES,
        FLOW_SLUGS,
        SOURCE_SLUGS,
        PROMPT_NAMES,
        GROUP_NAMES,
        USERNAMES,
        POLICY_NAMES,
    ];
}

/// One way of pointing at an object, whatever the reference type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum By {
    /// A custom resource in the same namespace, of the kind the field names.
    Ref(String),
    /// A custom resource in the same namespace, of the kind given (kind, name).
    KindRef(String, String),
    /// An object's name in authentik (a stage's, a prompt's, a group's, a policy's).
    Name(String),
    /// A flow's or source's slug.
    Slug(String),
    /// A user's username.
    Username(String),
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
            By::Username(v) => write!(f, "username {v:?}"),
            By::Pk(v) => write!(f, "pk {v}"),
        }
    }
}

impl By {
    /// The reference a spec's one-of object holds (`{ref: name}`, `{ref: {kind, name}}`,
    /// `{name}`, `{slug}`, `{username}`, `{pk}`); `None` unless exactly one key is set.
    pub fn from_json(value: &serde_json::Value) -> Option<By> {
        use serde_json::Value;
        let obj = value.as_object()?;
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        let reference = match obj.get("ref") {
            Some(Value::String(name)) => Some(By::Ref(name.clone())),
            Some(Value::Object(r)) => {
                let field = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
                Some(By::KindRef(field("kind")?, field("name")?))
            }
            _ => None,
        };
        let pk = match obj.get("pk") {
            Some(Value::String(pk)) => Some(pk.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        one_of([
            reference,
            text("name").map(By::Name),
            text("slug").map(By::Slug),
            text("username").map(By::Username),
            pk.map(By::Pk),
        ])
    }
}
