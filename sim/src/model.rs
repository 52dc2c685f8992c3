//! The stage kinds as tables: fields in serializer order with their types, defaults and the
//! first release that has them, and the list filters of each viewset; the flow and binding
//! enums.

use crate::profile::Profile;
use Profile::{Current, V2023_10, V2024_4};

/// A stage kind. The first three have their own endpoint; the others exist only because a
/// fresh install binds them into the default flows (they show in `/stages/all/`, in
/// `stage_obj` and in a flow's `stages`, and have no fields of their own here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Password,
    Identification,
    UserLogin,
    AuthenticatorValidate,
    AuthenticatorStatic,
}

/// What a foreign key points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Flow,
    Source,
    /// A stage of any kind.
    Stage,
    PasswordStage,
    /// Captcha stages are not modelled: no pk ever exists.
    CaptchaStage,
    AuthenticatorValidateStage,
}

/// One allowed value of an enum, and the first release that accepts it.
pub type Choice = (&'static str, Profile);

#[derive(Clone, Copy, Debug)]
pub enum Ty {
    Bool,
    /// A 32-bit signed integer (Django `IntegerField`).
    Int32,
    /// An authentik duration string (`hours=1;minutes=2`).
    Duration,
    Choice(&'static [Choice]),
    ChoiceList {
        choices: &'static [Choice],
        allow_empty: bool,
    },
    /// A nullable primary-key reference.
    Fk(Target),
    /// A many-to-many list of primary keys.
    M2m(Target),
}

/// What a create stores when the field is omitted.
#[derive(Clone, Copy, Debug)]
pub enum Dflt {
    Null,
    Bool(bool),
    Int(i64),
    Str(&'static str),
    EmptyList,
    /// No model default: the database insert fails (a server error).
    Missing,
}

#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: Ty,
    pub since: Profile,
    /// Required on POST and PUT.
    pub required: bool,
    pub default: Dflt,
}

const fn field(name: &'static str, ty: Ty, since: Profile, default: Dflt) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        since,
        required: false,
        default,
    }
}

pub const BACKENDS: &[Choice] = &[
    ("authentik.core.auth.InbuiltBackend", V2023_10),
    ("authentik.core.auth.TokenBackend", V2023_10),
    ("authentik.sources.ldap.auth.LDAPBackend", V2023_10),
    ("authentik.sources.kerberos.auth.KerberosBackend", Current),
];
pub const USER_FIELDS: &[Choice] = &[
    ("email", V2023_10),
    ("username", V2023_10),
    ("upn", V2023_10),
];
pub const NETWORK_BINDING: &[Choice] = &[
    ("no_binding", V2024_4),
    ("bind_asn", V2024_4),
    ("bind_asn_network", V2024_4),
    ("bind_asn_network_ip", V2024_4),
];
pub const GEOIP_BINDING: &[Choice] = &[
    ("no_binding", V2024_4),
    ("bind_continent", V2024_4),
    ("bind_continent_country", V2024_4),
    ("bind_continent_country_city", V2024_4),
];

const PASSWORD: &[FieldSpec] = &[
    FieldSpec {
        name: "backends",
        ty: Ty::ChoiceList {
            choices: BACKENDS,
            allow_empty: false,
        },
        since: V2023_10,
        required: true,
        default: Dflt::Missing,
    },
    field("configure_flow", Ty::Fk(Target::Flow), V2023_10, Dflt::Null),
    field(
        "failed_attempts_before_cancel",
        Ty::Int32,
        V2023_10,
        Dflt::Int(5),
    ),
    field("allow_show_password", Ty::Bool, Current, Dflt::Bool(false)),
];

const IDENTIFICATION: &[FieldSpec] = &[
    field(
        "user_fields",
        Ty::ChoiceList {
            choices: USER_FIELDS,
            allow_empty: true,
        },
        V2023_10,
        Dflt::Missing,
    ),
    field(
        "password_stage",
        Ty::Fk(Target::PasswordStage),
        V2023_10,
        Dflt::Null,
    ),
    field(
        "captcha_stage",
        Ty::Fk(Target::CaptchaStage),
        Current,
        Dflt::Null,
    ),
    field(
        "case_insensitive_matching",
        Ty::Bool,
        V2023_10,
        Dflt::Bool(true),
    ),
    field("show_matched_user", Ty::Bool, V2023_10, Dflt::Bool(true)),
    field(
        "enrollment_flow",
        Ty::Fk(Target::Flow),
        V2023_10,
        Dflt::Null,
    ),
    field("recovery_flow", Ty::Fk(Target::Flow), V2023_10, Dflt::Null),
    field(
        "passwordless_flow",
        Ty::Fk(Target::Flow),
        V2023_10,
        Dflt::Null,
    ),
    field(
        "sources",
        Ty::M2m(Target::Source),
        V2023_10,
        Dflt::EmptyList,
    ),
    field("show_source_labels", Ty::Bool, V2023_10, Dflt::Bool(false)),
    field("pretend_user_exists", Ty::Bool, V2024_4, Dflt::Bool(true)),
    field("enable_remember_me", Ty::Bool, Current, Dflt::Bool(false)),
    field(
        "webauthn_stage",
        Ty::Fk(Target::AuthenticatorValidateStage),
        Current,
        Dflt::Null,
    ),
];

const USER_LOGIN: &[FieldSpec] = &[
    field(
        "session_duration",
        Ty::Duration,
        V2023_10,
        Dflt::Str("seconds=0"),
    ),
    field(
        "terminate_other_sessions",
        Ty::Bool,
        V2023_10,
        Dflt::Bool(false),
    ),
    field(
        "remember_me_offset",
        Ty::Duration,
        V2023_10,
        Dflt::Str("seconds=0"),
    ),
    field(
        "network_binding",
        Ty::Choice(NETWORK_BINDING),
        V2024_4,
        Dflt::Str("no_binding"),
    ),
    field(
        "geoip_binding",
        Ty::Choice(GEOIP_BINDING),
        V2024_4,
        Dflt::Str("no_binding"),
    ),
    field(
        "remember_device",
        Ty::Duration,
        Current,
        Dflt::Str("days=30"),
    ),
];

/// How a list filter reads its query parameter (django-filter).
#[derive(Clone, Copy, Debug)]
pub enum FilterTy {
    /// Exact, case-sensitive string match on the field of the same name.
    Exact,
    Bool,
    Number,
    Fk(Target),
    Choice(&'static [Choice]),
    /// The primary key (`stage_uuid`).
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

const fn filter(param: &'static str, ty: FilterTy, since: Profile) -> FilterSpec {
    FilterSpec { param, ty, since }
}

const PASSWORD_FILTERS: &[FilterSpec] = &[
    filter("name", FilterTy::Exact, V2023_10),
    filter("configure_flow", FilterTy::Fk(Target::Flow), V2023_10),
    filter("failed_attempts_before_cancel", FilterTy::Number, V2023_10),
    filter("allow_show_password", FilterTy::Bool, Current),
];

const IDENTIFICATION_FILTERS: &[FilterSpec] = &[
    filter("name", FilterTy::Exact, V2023_10),
    filter(
        "password_stage",
        FilterTy::Fk(Target::PasswordStage),
        V2023_10,
    ),
    filter("captcha_stage", FilterTy::Fk(Target::CaptchaStage), Current),
    filter(
        "webauthn_stage",
        FilterTy::Fk(Target::AuthenticatorValidateStage),
        Current,
    ),
    filter("case_insensitive_matching", FilterTy::Bool, V2023_10),
    filter("show_matched_user", FilterTy::Bool, V2023_10),
    filter("enrollment_flow", FilterTy::Fk(Target::Flow), V2023_10),
    filter("recovery_flow", FilterTy::Fk(Target::Flow), V2023_10),
    filter("passwordless_flow", FilterTy::Fk(Target::Flow), V2023_10),
    filter("show_source_labels", FilterTy::Bool, V2023_10),
];

/// `filterset_fields = "__all__"`: every model field, in model order.
const USER_LOGIN_FILTERS: &[FilterSpec] = &[
    filter("stage_uuid", FilterTy::Pk, V2023_10),
    filter("name", FilterTy::Exact, V2023_10),
    filter("session_duration", FilterTy::Exact, V2023_10),
    filter("terminate_other_sessions", FilterTy::Bool, V2023_10),
    filter("remember_me_offset", FilterTy::Exact, V2023_10),
    filter(
        "network_binding",
        FilterTy::Choice(NETWORK_BINDING),
        V2024_4,
    ),
    filter("geoip_binding", FilterTy::Choice(GEOIP_BINDING), V2024_4),
    filter("remember_device", FilterTy::Exact, Current),
];

/// The kinds with an endpoint of their own.
pub const KINDS: [Kind; 3] = [Kind::Password, Kind::Identification, Kind::UserLogin];

impl Kind {
    /// The URL segment (`stages/<slug>/`).
    pub fn slug(self) -> &'static str {
        match self {
            Kind::Password => "password",
            Kind::Identification => "identification",
            Kind::UserLogin => "user_login",
            Kind::AuthenticatorValidate => "authenticator/validate",
            Kind::AuthenticatorStatic => "authenticator/static",
        }
    }

    /// The reference fields that point at stages of this kind.
    pub fn as_target(self) -> Option<Target> {
        match self {
            Kind::Password => Some(Target::PasswordStage),
            Kind::AuthenticatorValidate => Some(Target::AuthenticatorValidateStage),
            _ => None,
        }
    }

    pub fn from_slug(s: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.slug() == s)
    }

    /// The Django model's class name (used in current 404 messages).
    pub fn model(self) -> &'static str {
        match self {
            Kind::Password => "PasswordStage",
            Kind::Identification => "IdentificationStage",
            Kind::UserLogin => "UserLoginStage",
            Kind::AuthenticatorValidate => "AuthenticatorValidateStage",
            Kind::AuthenticatorStatic => "AuthenticatorStaticStage",
        }
    }

    pub fn component(self) -> &'static str {
        match self {
            Kind::Password => "ak-stage-password-form",
            Kind::Identification => "ak-stage-identification-form",
            Kind::UserLogin => "ak-stage-user-login-form",
            Kind::AuthenticatorValidate => "ak-stage-authenticator-validate-form",
            Kind::AuthenticatorStatic => "ak-stage-authenticator-static-form",
        }
    }

    pub fn verbose_name(self) -> &'static str {
        match self {
            Kind::Password => "Password Stage",
            Kind::Identification => "Identification Stage",
            Kind::UserLogin => "User Login Stage",
            Kind::AuthenticatorValidate => "Authenticator Validation Stage",
            Kind::AuthenticatorStatic => "Static Authenticator Setup Stage",
        }
    }

    pub fn verbose_name_plural(self) -> &'static str {
        match self {
            Kind::Password => "Password Stages",
            Kind::Identification => "Identification Stages",
            Kind::UserLogin => "User Login Stages",
            Kind::AuthenticatorValidate => "Authenticator Validation Stages",
            Kind::AuthenticatorStatic => "Static Authenticator Setup Stages",
        }
    }

    pub fn meta_model_name(self) -> &'static str {
        match self {
            Kind::Password => "authentik_stages_password.passwordstage",
            Kind::Identification => "authentik_stages_identification.identificationstage",
            Kind::UserLogin => "authentik_stages_user_login.userloginstage",
            Kind::AuthenticatorValidate => {
                "authentik_stages_authenticator_validate.authenticatorvalidatestage"
            }
            Kind::AuthenticatorStatic => {
                "authentik_stages_authenticator_static.authenticatorstaticstage"
            }
        }
    }

    /// All fields the simulator stores, in serializer order.
    pub fn all_fields(self) -> &'static [FieldSpec] {
        match self {
            Kind::Password => PASSWORD,
            Kind::Identification => IDENTIFICATION,
            Kind::UserLogin => USER_LOGIN,
            Kind::AuthenticatorValidate | Kind::AuthenticatorStatic => &[],
        }
    }

    /// The fields `profile` has, in serializer order.
    pub fn fields(self, profile: Profile) -> impl Iterator<Item = &'static FieldSpec> {
        self.all_fields().iter().filter(move |f| f.since <= profile)
    }

    pub fn filters(self, profile: Profile) -> impl Iterator<Item = &'static FilterSpec> {
        let all = match self {
            Kind::Password => PASSWORD_FILTERS,
            Kind::Identification => IDENTIFICATION_FILTERS,
            Kind::UserLogin => USER_LOGIN_FILTERS,
            Kind::AuthenticatorValidate | Kind::AuthenticatorStatic => &[],
        };
        all.iter().filter(move |f| f.since <= profile)
    }
}

/// The choices `profile` accepts.
pub fn choices(all: &'static [Choice], profile: Profile) -> impl Iterator<Item = &'static str> {
    all.iter()
        .filter(move |(_, since)| *since <= profile)
        .map(|(v, _)| *v)
}

/// Flow enums (`FlowDesignationEnum` and friends), with their defaults first where they have one.
pub const DESIGNATIONS: &[Choice] = &[
    ("authentication", V2023_10),
    ("authorization", V2023_10),
    ("invalidation", V2023_10),
    ("enrollment", V2023_10),
    ("unenrollment", V2023_10),
    ("recovery", V2023_10),
    ("stage_configuration", V2023_10),
];
pub const POLICY_ENGINE_MODES: &[Choice] = &[("all", V2023_10), ("any", V2023_10)];
pub const LAYOUTS: &[Choice] = &[
    ("stacked", V2023_10),
    ("content_left", V2023_10),
    ("content_right", V2023_10),
    ("sidebar_left", V2023_10),
    ("sidebar_right", V2023_10),
    ("sidebar_left_frame_background", Current),
    ("sidebar_right_frame_background", Current),
];
pub const DENIED_ACTIONS: &[Choice] = &[
    ("message_continue", V2023_10),
    ("message", V2023_10),
    ("continue", V2023_10),
];
pub const FLOW_AUTHENTICATION: &[Choice] = &[
    ("none", V2023_10),
    ("require_authenticated", V2023_10),
    ("require_unauthenticated", V2023_10),
    ("require_superuser", V2023_10),
    ("require_redirect", V2024_4),
    ("require_outpost", V2024_4),
    ("require_token", Current),
];

/// `FlowStageBinding.invalid_response_action`.
pub const INVALID_RESPONSE_ACTIONS: &[Choice] = &[
    ("retry", V2023_10),
    ("restart", V2023_10),
    ("restart_with_context", V2023_10),
];
