//! The object kinds as tables: for each kind its endpoint, its Django model, its fields in
//! serializer order (type, default, the releases that have it) and the filters of its
//! viewset. Stages, policies and prompt fields are all kinds; the code that serves them is
//! one generic path driven by these tables.

mod authenticators;
mod enrollment;
mod flows;
mod policies;
mod stages;

pub use enrollment::EMAIL_TEMPLATES;
pub use flows::*;

use crate::profile::Profile;
use Profile::V2023_10;

/// What a kind belongs to: it decides the base fields every kind of the family renders, the
/// name scope (names are unique within a family) and the family's `all/` endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Stage,
    Policy,
    /// Prompt fields (`stages/prompt/prompts/`): not stages, names unique among prompts.
    Prompt,
}

/// An object kind served from the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Password,
    Identification,
    UserLogin,
    AuthenticatorTotp,
    AuthenticatorWebauthn,
    AuthenticatorStatic,
    AuthenticatorValidate,
    Consent,
    Deny,
    Dummy,
    Email,
    PromptStage,
    UserWrite,
    UserLogout,
    UserDelete,
    Captcha,
    Invitation,
    Redirect,
    ExpressionPolicy,
    PasswordPolicy,
    ReputationPolicy,
    EventMatcherPolicy,
    Prompt,
}

/// Every kind, in table order.
pub const KINDS: [Kind; 23] = [
    Kind::Password,
    Kind::Identification,
    Kind::UserLogin,
    Kind::AuthenticatorTotp,
    Kind::AuthenticatorWebauthn,
    Kind::AuthenticatorStatic,
    Kind::AuthenticatorValidate,
    Kind::Consent,
    Kind::Deny,
    Kind::Dummy,
    Kind::Email,
    Kind::PromptStage,
    Kind::UserWrite,
    Kind::UserLogout,
    Kind::UserDelete,
    Kind::Captcha,
    Kind::Invitation,
    Kind::Redirect,
    Kind::ExpressionPolicy,
    Kind::PasswordPolicy,
    Kind::ReputationPolicy,
    Kind::EventMatcherPolicy,
    Kind::Prompt,
];

/// What a foreign key or many-to-many field points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Flow,
    Source,
    /// A stage of any kind.
    Stage,
    /// A stage of this kind.
    StageOf(Kind),
    Prompt,
    /// A policy of any kind.
    Policy,
    Group,
    /// A flow, flow-stage binding or rule by its policy-binding-model id.
    Pbm,
    /// WebAuthn device types: not modelled, so no pk ever exists.
    DeviceType,
}

/// One allowed value of an enum, and the first release that accepts it.
pub type Choice = (&'static str, Profile);

/// A read-only field computed when rendering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Computed {
    /// The prompt stages that list a prompt, rendered with the generic stage fields.
    PromptStageSet,
    /// The same, rendered as prompt stages (with `fields`; 2025.x on).
    PromptStagesObj,
    /// The objects of a many-to-many field of the same kind (device types: always empty).
    EmptyObjs,
}

#[derive(Clone, Copy, Debug)]
pub enum Ty {
    Bool,
    /// A Django integer field with its bounds.
    Int {
        min: i64,
        max: i64,
    },
    Float,
    /// A text field: `blank` accepts `""`, `null` accepts `null`.
    Text {
        blank: bool,
        null: bool,
    },
    /// An `EmailField`.
    Email,
    /// An authentik duration string (`hours=1;minutes=2`).
    Duration,
    Choice {
        choices: &'static [Choice],
        null: bool,
    },
    /// Integer choices (`digits`): stored as numbers, rendered as text from 2024.4 on.
    IntChoice(&'static [Choice]),
    ChoiceList {
        choices: &'static [Choice],
        allow_empty: bool,
    },
    /// A nullable primary-key reference.
    Fk(Target),
    /// A many-to-many list of primary keys.
    M2m {
        target: Target,
        allow_empty: bool,
    },
    /// An email template path.
    Template,
    /// Write-only text: stored, validated, never rendered.
    Secret {
        blank: bool,
    },
    /// Python source that authentik compiles on save (expression policies).
    Expression,
    Computed(Computed),
}

pub const INT32: Ty = Ty::Int {
    min: i32::MIN as i64,
    max: i32::MAX as i64,
};
/// `PositiveIntegerField`.
pub const POSITIVE: Ty = Ty::Int {
    min: 0,
    max: i32::MAX as i64,
};
pub const TEXT: Ty = Ty::Text {
    blank: false,
    null: false,
};
pub const BLANK_TEXT: Ty = Ty::Text {
    blank: true,
    null: false,
};
pub const NULL_TEXT: Ty = Ty::Text {
    blank: true,
    null: true,
};

/// What a create stores when the field is omitted.
#[derive(Clone, Copy, Debug)]
pub enum Dflt {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'static str),
    EmptyList,
    List(&'static [&'static str]),
    /// No model default: the database insert fails (a server error).
    Missing,
}

#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: Ty,
    pub since: Profile,
    /// The first release that no longer has this field (or this version of it).
    pub until: Option<Profile>,
    /// Required on POST and PUT.
    pub required: bool,
    pub default: Dflt,
}

impl FieldSpec {
    pub const fn required(mut self) -> FieldSpec {
        self.required = true;
        self
    }

    pub const fn until(mut self, p: Profile) -> FieldSpec {
        self.until = Some(p);
        self
    }

    pub fn exists_in(&self, p: Profile) -> bool {
        self.since <= p && self.until.is_none_or(|u| p < u)
    }

    /// Whether requests may set it.
    pub fn writable(&self) -> bool {
        !matches!(self.ty, Ty::Computed(_))
    }

    /// Whether answers show it.
    pub fn readable(&self) -> bool {
        !matches!(self.ty, Ty::Secret { .. })
    }
}

pub const fn field(name: &'static str, ty: Ty, since: Profile, default: Dflt) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        since,
        until: None,
        required: false,
        default,
    }
}

/// How a list filter reads its query parameter (django-filter).
#[derive(Clone, Copy, Debug)]
pub enum FilterTy {
    /// Exact, case-sensitive string match on the field of the same name.
    Exact,
    Bool,
    Number,
    Fk(Target),
    /// A repeatable parameter; an object matches if its list holds any of the values.
    M2m(Target),
    Choice(&'static [Choice]),
    /// The primary key.
    Pk,
    /// Another UUID field, named like the parameter.
    Uuid,
}

#[derive(Clone, Copy, Debug)]
pub struct FilterSpec {
    pub param: &'static str,
    pub ty: FilterTy,
    pub since: Profile,
}

pub const fn filter(param: &'static str, ty: FilterTy, since: Profile) -> FilterSpec {
    FilterSpec { param, ty, since }
}

/// A kind's table row.
#[derive(Debug)]
pub struct KindSpec {
    pub family: Family,
    /// The URL path under `/api/v3/`, without slashes at the ends.
    pub path: &'static str,
    /// The first release that has the endpoint.
    pub since: Profile,
    /// The Django model class (404 messages on current releases).
    pub class: &'static str,
    pub app: &'static str,
    pub model_name: &'static str,
    /// An older `model_name` and the release that renamed it.
    pub renamed: Option<(&'static str, Profile)>,
    pub component: &'static str,
    pub verbose_name: &'static str,
    pub verbose_name_plural: &'static str,
    /// The viewset's name as DRF shows it in OPTIONS (`… List`/`… Instance` added).
    pub view: &'static str,
    pub fields: &'static [FieldSpec],
    pub filters: &'static [FilterSpec],
    pub search: &'static [&'static str],
    pub ordering: &'static [&'static str],
    /// OPTIONS fails inside the server (answered as an empty 200 `text/html`).
    pub options_fail: bool,
}

/// The fields every policy kind has before its own (`PolicySerializer`).
pub const POLICY_BASE: &[FieldSpec] = &[field(
    "execution_logging",
    Ty::Bool,
    V2023_10,
    Dflt::Bool(false),
)];

impl Kind {
    pub fn spec(self) -> &'static KindSpec {
        stages::spec(self)
            .or_else(|| policies::spec(self))
            .unwrap_or(&stages::PASSWORD)
    }

    pub fn family(self) -> Family {
        self.spec().family
    }

    /// The URL path (`stages/authenticator/totp`).
    pub fn path(self) -> &'static str {
        self.spec().path
    }

    /// The last URL segment(s) after the family prefix, e.g. `authenticator/totp`.
    pub fn slug(self) -> &'static str {
        let p = self.path();
        p.split_once('/').map_or(p, |(_, rest)| rest)
    }

    /// The kind served at `path`, if `profile` has it.
    pub fn from_path(path: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.path() == path)
    }

    pub fn from_slug(s: &str) -> Option<Kind> {
        KINDS
            .into_iter()
            .find(|k| k.slug() == s || k.path() == s || k.model_name(Profile::Current) == s)
    }

    pub fn available(self, profile: Profile) -> bool {
        self.spec().since <= profile
    }

    /// The Django model's class name (used in current 404 messages).
    pub fn model(self) -> &'static str {
        self.spec().class
    }

    pub fn app(self) -> &'static str {
        self.spec().app
    }

    pub fn model_name(self, profile: Profile) -> &'static str {
        let s = self.spec();
        match s.renamed {
            Some((old, renamed_in)) if profile < renamed_in => old,
            _ => s.model_name,
        }
    }

    pub fn component(self) -> &'static str {
        self.spec().component
    }

    pub fn verbose_name(self) -> &'static str {
        self.spec().verbose_name
    }

    pub fn verbose_name_plural(self) -> &'static str {
        self.spec().verbose_name_plural
    }

    pub fn meta_model_name(self, profile: Profile) -> String {
        format!("{}.{}", self.app(), self.model_name(profile))
    }

    /// The family's base fields and then the kind's, in serializer order, for every release.
    pub fn all_fields(self) -> impl Iterator<Item = &'static FieldSpec> {
        let base: &'static [FieldSpec] = match self.family() {
            Family::Policy => POLICY_BASE,
            _ => &[],
        };
        base.iter().chain(self.spec().fields.iter())
    }

    /// The fields `profile` has, in serializer order.
    pub fn fields(self, profile: Profile) -> impl Iterator<Item = &'static FieldSpec> {
        self.all_fields().filter(move |f| f.exists_in(profile))
    }

    /// The spec `profile` uses for the field `name`.
    pub fn field(self, profile: Profile, name: &str) -> Option<&'static FieldSpec> {
        self.fields(profile).find(|f| f.name == name)
    }

    pub fn filters(self, profile: Profile) -> impl Iterator<Item = &'static FilterSpec> {
        self.spec()
            .filters
            .iter()
            .filter(move |f| f.since <= profile)
    }
}

impl Family {
    /// The name-uniqueness message's model (`stage with this name already exists.`).
    pub fn unique_label(self) -> &'static str {
        match self {
            Family::Stage => "stage",
            Family::Policy => "Policy",
            Family::Prompt => "Prompt",
        }
    }

    /// The base model's class (404s on `all/` routes).
    pub fn class(self) -> &'static str {
        match self {
            Family::Stage => "Stage",
            Family::Policy => "Policy",
            Family::Prompt => "Prompt",
        }
    }
}

/// The choices `profile` accepts.
pub fn choices(all: &'static [Choice], profile: Profile) -> impl Iterator<Item = &'static str> {
    all.iter()
        .filter(move |(_, since)| *since <= profile)
        .map(|(v, _)| *v)
}

/// Choices every release has.
pub const fn always(v: &'static str) -> Choice {
    (v, V2023_10)
}
