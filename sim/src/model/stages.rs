//! Stage kinds: `StageSerializer`'s subclasses, field by field.

use super::{
    BLANK_TEXT, Choice, Dflt, FieldSpec, FilterSpec, FilterTy, INT32, KindSpec, NULL_TEXT, Target,
    Ty, always, field, filter,
};
use super::{Family, Kind};
use crate::profile::Profile::{Current, V2023_10, V2024_4};

/// `model`: the Django class, app label and model name.
pub(super) const fn stage(
    path: &'static str,
    model: (&'static str, &'static str, &'static str),
    component: &'static str,
    verbose: (&'static str, &'static str),
    view: &'static str,
    fields: &'static [FieldSpec],
    filters: &'static [FilterSpec],
) -> KindSpec {
    KindSpec {
        family: Family::Stage,
        path,
        since: V2023_10,
        class: model.0,
        app: model.1,
        model_name: model.2,
        renamed: None,
        component,
        verbose_name: verbose.0,
        verbose_name_plural: verbose.1,
        view,
        fields,
        filters,
        search: &["name"],
        ordering: &["name"],
        options_fail: false,
    }
}

pub(super) const fn choice(choices: &'static [Choice]) -> Ty {
    Ty::Choice {
        choices,
        null: false,
    }
}

pub const BACKENDS: &[Choice] = &[
    always("authentik.core.auth.InbuiltBackend"),
    always("authentik.core.auth.TokenBackend"),
    always("authentik.sources.ldap.auth.LDAPBackend"),
    ("authentik.sources.kerberos.auth.KerberosBackend", Current),
];
pub const USER_FIELDS: &[Choice] = &[always("email"), always("username"), always("upn")];
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
const USER_CREATION: &[Choice] = &[
    always("never_create"),
    always("create_when_required"),
    always("always_create"),
];
const USER_TYPES: &[Choice] = &[
    always("internal"),
    always("external"),
    always("service_account"),
    always("internal_service_account"),
];

pub(super) const NAME: FilterSpec = filter("name", FilterTy::Exact, V2023_10);
pub(super) const STAGE_UUID: FilterSpec = filter("stage_uuid", FilterTy::Pk, V2023_10);
pub(super) const CONFIGURE_FLOW: FieldSpec =
    field("configure_flow", Ty::Fk(Target::Flow), V2023_10, Dflt::Null);
pub(super) const FRIENDLY_NAME: [FieldSpec; 2] = [
    field("friendly_name", NULL_TEXT, V2023_10, Dflt::Null).until(Current),
    field("friendly_name", BLANK_TEXT, Current, Dflt::Str("")),
];

pub const PASSWORD: KindSpec = stage(
    "stages/password",
    (
        "PasswordStage",
        "authentik_stages_password",
        "passwordstage",
    ),
    "ak-stage-password-form",
    ("Password Stage", "Password Stages"),
    "Password Stage",
    &[
        field(
            "backends",
            Ty::ChoiceList {
                choices: BACKENDS,
                allow_empty: false,
            },
            V2023_10,
            Dflt::Missing,
        )
        .required(),
        CONFIGURE_FLOW,
        field(
            "failed_attempts_before_cancel",
            INT32,
            V2023_10,
            Dflt::Int(5),
        ),
        field("allow_show_password", Ty::Bool, Current, Dflt::Bool(false)),
    ],
    &[
        NAME,
        filter("configure_flow", FilterTy::Fk(Target::Flow), V2023_10),
        filter("failed_attempts_before_cancel", FilterTy::Number, V2023_10),
        filter("allow_show_password", FilterTy::Bool, Current),
    ],
);

const IDENTIFICATION: KindSpec = stage(
    "stages/identification",
    (
        "IdentificationStage",
        "authentik_stages_identification",
        "identificationstage",
    ),
    "ak-stage-identification-form",
    ("Identification Stage", "Identification Stages"),
    "Identification Stage",
    &[
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
            Ty::Fk(Target::StageOf(Kind::Password)),
            V2023_10,
            Dflt::Null,
        ),
        field(
            "captcha_stage",
            Ty::Fk(Target::StageOf(Kind::Captcha)),
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
            Ty::M2m {
                target: Target::Source,
                allow_empty: true,
            },
            V2023_10,
            Dflt::EmptyList,
        ),
        field("show_source_labels", Ty::Bool, V2023_10, Dflt::Bool(false)),
        field("pretend_user_exists", Ty::Bool, V2024_4, Dflt::Bool(true)),
        field("enable_remember_me", Ty::Bool, Current, Dflt::Bool(false)),
        field(
            "webauthn_stage",
            Ty::Fk(Target::StageOf(Kind::AuthenticatorValidate)),
            Current,
            Dflt::Null,
        ),
    ],
    &[
        NAME,
        filter(
            "password_stage",
            FilterTy::Fk(Target::StageOf(Kind::Password)),
            V2023_10,
        ),
        filter(
            "captcha_stage",
            FilterTy::Fk(Target::StageOf(Kind::Captcha)),
            Current,
        ),
        filter(
            "webauthn_stage",
            FilterTy::Fk(Target::StageOf(Kind::AuthenticatorValidate)),
            Current,
        ),
        filter("case_insensitive_matching", FilterTy::Bool, V2023_10),
        filter("show_matched_user", FilterTy::Bool, V2023_10),
        filter("enrollment_flow", FilterTy::Fk(Target::Flow), V2023_10),
        filter("recovery_flow", FilterTy::Fk(Target::Flow), V2023_10),
        filter("passwordless_flow", FilterTy::Fk(Target::Flow), V2023_10),
        filter("show_source_labels", FilterTy::Bool, V2023_10),
    ],
);

const USER_LOGIN: KindSpec = stage(
    "stages/user_login",
    (
        "UserLoginStage",
        "authentik_stages_user_login",
        "userloginstage",
    ),
    "ak-stage-user-login-form",
    ("User Login Stage", "User Login Stages"),
    "User Login Stage",
    &[
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
            choice(NETWORK_BINDING),
            V2024_4,
            Dflt::Str("no_binding"),
        ),
        field(
            "geoip_binding",
            choice(GEOIP_BINDING),
            V2024_4,
            Dflt::Str("no_binding"),
        ),
        field(
            "remember_device",
            Ty::Duration,
            Current,
            Dflt::Str("days=30"),
        ),
    ],
    // `filterset_fields = "__all__"`: every model field, in model order.
    &[
        STAGE_UUID,
        NAME,
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
    ],
);

const USER_WRITE: KindSpec = stage(
    "stages/user_write",
    (
        "UserWriteStage",
        "authentik_stages_user_write",
        "userwritestage",
    ),
    "ak-stage-user-write-form",
    ("User Write Stage", "User Write Stages"),
    "User Write Stage",
    &[
        field(
            "user_creation_mode",
            choice(USER_CREATION),
            V2023_10,
            Dflt::Str("create_when_required"),
        ),
        field(
            "create_users_as_inactive",
            Ty::Bool,
            V2023_10,
            Dflt::Bool(false),
        ),
        field(
            "create_users_group",
            Ty::Fk(Target::Group),
            V2023_10,
            Dflt::Null,
        ),
        field(
            "user_type",
            choice(USER_TYPES),
            V2023_10,
            Dflt::Str("external"),
        ),
        field("user_path_template", BLANK_TEXT, V2023_10, Dflt::Str("")),
    ],
    &[
        filter("create_users_as_inactive", FilterTy::Bool, V2023_10),
        filter("create_users_group", FilterTy::Fk(Target::Group), V2023_10),
        NAME,
        STAGE_UUID,
        filter(
            "user_creation_mode",
            FilterTy::Choice(USER_CREATION),
            V2023_10,
        ),
        filter("user_path_template", FilterTy::Exact, V2023_10),
        filter("user_type", FilterTy::Choice(USER_TYPES), V2023_10),
    ],
);

const USER_LOGOUT: KindSpec = stage(
    "stages/user_logout",
    (
        "UserLogoutStage",
        "authentik_stages_user_logout",
        "userlogoutstage",
    ),
    "ak-stage-user-logout-form",
    ("User Logout Stage", "User Logout Stages"),
    "User Logout Stage",
    &[],
    &[NAME, STAGE_UUID],
);

const USER_DELETE: KindSpec = stage(
    "stages/user_delete",
    (
        "UserDeleteStage",
        "authentik_stages_user_delete",
        "userdeletestage",
    ),
    "ak-stage-user-delete-form",
    ("User Delete Stage", "User Delete Stages"),
    "User Delete Stage",
    &[],
    &[NAME, STAGE_UUID],
);

pub(super) fn spec(kind: Kind) -> Option<&'static KindSpec> {
    Some(match kind {
        Kind::Password => &PASSWORD,
        Kind::Identification => &IDENTIFICATION,
        Kind::UserLogin => &USER_LOGIN,
        Kind::UserWrite => &USER_WRITE,
        Kind::UserLogout => &USER_LOGOUT,
        Kind::UserDelete => &USER_DELETE,
        _ => return super::authenticators::spec(kind).or_else(|| super::enrollment::spec(kind)),
    })
}
