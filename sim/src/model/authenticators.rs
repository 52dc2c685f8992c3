//! Authenticator setup and validation stages, and captcha stages.

use super::stages::{CONFIGURE_FLOW, FRIENDLY_NAME, NAME, STAGE_UUID, choice, stage};
use super::{
    Choice, Computed, Dflt, FilterTy, Kind, KindSpec, POSITIVE, TEXT, Target, Ty, always, field,
    filter,
};
use crate::profile::Profile::{Current, V2023_10, V2024_4};

const DIGITS: &[Choice] = &[always("6"), always("8")];

const USER_VERIFICATION: &[Choice] = &[
    always("required"),
    always("preferred"),
    always("discouraged"),
];

const ATTACHMENT: &[Choice] = &[always("platform"), always("cross-platform")];

const RESIDENT_KEY: &[Choice] = &[
    always("discouraged"),
    always("preferred"),
    always("required"),
];

const NOT_CONFIGURED: &[Choice] = &[always("skip"), always("deny"), always("configure")];

const DEVICE_CLASSES: &[Choice] = &[
    always("static"),
    always("totp"),
    always("webauthn"),
    always("duo"),
    always("sms"),
    ("email", Current),
];

const TOTP: KindSpec = stage(
    "stages/authenticator/totp",
    (
        "AuthenticatorTOTPStage",
        "authentik_stages_authenticator_totp",
        "authenticatortotpstage",
    ),
    "ak-stage-authenticator-totp-form",
    (
        "TOTP Authenticator Setup Stage",
        "TOTP Authenticator Setup Stages",
    ),
    "Authenticator Totp Stage",
    &[
        CONFIGURE_FLOW,
        FRIENDLY_NAME[0],
        FRIENDLY_NAME[1],
        field("digits", Ty::IntChoice(DIGITS), V2023_10, Dflt::Missing).required(),
    ],
    &[
        filter("configure_flow", FilterTy::Fk(Target::Flow), V2023_10),
        filter("digits", FilterTy::Choice(DIGITS), V2023_10),
        filter("friendly_name", FilterTy::Exact, V2023_10),
        NAME,
        STAGE_UUID,
    ],
);

const WEBAUTHN: KindSpec = KindSpec {
    renamed: Some(("authenticatewebauthnstage", V2024_4)),
    ..stage(
        "stages/authenticator/webauthn",
        (
            "AuthenticatorWebAuthnStage",
            "authentik_stages_authenticator_webauthn",
            "authenticatorwebauthnstage",
        ),
        "ak-stage-authenticator-webauthn-form",
        (
            "WebAuthn Authenticator Setup Stage",
            "WebAuthn Authenticator Setup Stages",
        ),
        "Authenticator Web Authn Stage",
        &[
            CONFIGURE_FLOW,
            FRIENDLY_NAME[0],
            FRIENDLY_NAME[1],
            field(
                "user_verification",
                choice(USER_VERIFICATION),
                V2023_10,
                Dflt::Str("preferred"),
            ),
            field(
                "authenticator_attachment",
                Ty::Choice {
                    choices: ATTACHMENT,
                    null: true,
                },
                V2023_10,
                Dflt::Null,
            ),
            field(
                "resident_key_requirement",
                choice(RESIDENT_KEY),
                V2023_10,
                Dflt::Str("preferred"),
            ),
            field(
                "device_type_restrictions",
                Ty::M2m {
                    target: Target::DeviceType,
                    allow_empty: true,
                },
                V2024_4,
                Dflt::EmptyList,
            ),
            field(
                "device_type_restrictions_obj",
                Ty::Computed(Computed::EmptyObjs),
                V2024_4,
                Dflt::EmptyList,
            ),
            field("max_attempts", POSITIVE, Current, Dflt::Int(0)),
        ],
        &[
            filter(
                "authenticator_attachment",
                FilterTy::Choice(ATTACHMENT),
                V2023_10,
            ),
            filter("configure_flow", FilterTy::Fk(Target::Flow), V2023_10),
            filter(
                "device_type_restrictions",
                FilterTy::M2m(Target::DeviceType),
                V2024_4,
            ),
            filter("max_attempts", FilterTy::Number, Current),
            NAME,
            filter(
                "resident_key_requirement",
                FilterTy::Choice(RESIDENT_KEY),
                V2023_10,
            ),
            filter(
                "user_verification",
                FilterTy::Choice(USER_VERIFICATION),
                V2023_10,
            ),
        ],
    )
};

const STATIC: KindSpec = stage(
    "stages/authenticator/static",
    (
        "AuthenticatorStaticStage",
        "authentik_stages_authenticator_static",
        "authenticatorstaticstage",
    ),
    "ak-stage-authenticator-static-form",
    (
        "Static Authenticator Setup Stage",
        "Static Authenticator Setup Stages",
    ),
    "Authenticator Static Stage",
    &[
        CONFIGURE_FLOW,
        FRIENDLY_NAME[0],
        FRIENDLY_NAME[1],
        field("token_count", POSITIVE, V2023_10, Dflt::Int(6)),
        field("token_length", POSITIVE, V2023_10, Dflt::Int(12)).until(Current),
        field(
            "token_length",
            Ty::Int { min: 0, max: 100 },
            Current,
            Dflt::Int(12),
        ),
    ],
    &[
        filter("configure_flow", FilterTy::Fk(Target::Flow), V2023_10),
        filter("friendly_name", FilterTy::Exact, V2023_10),
        NAME,
        STAGE_UUID,
        filter("token_count", FilterTy::Number, V2023_10),
        filter("token_length", FilterTy::Number, V2023_10),
    ],
);

const VALIDATE: KindSpec = stage(
    "stages/authenticator/validate",
    (
        "AuthenticatorValidateStage",
        "authentik_stages_authenticator_validate",
        "authenticatorvalidatestage",
    ),
    "ak-stage-authenticator-validate-form",
    (
        "Authenticator Validation Stage",
        "Authenticator Validation Stages",
    ),
    "Authenticator Validate Stage",
    &[
        field(
            "not_configured_action",
            choice(NOT_CONFIGURED),
            V2023_10,
            Dflt::Str("skip"),
        ),
        field(
            "device_classes",
            Ty::ChoiceList {
                choices: DEVICE_CLASSES,
                allow_empty: true,
            },
            V2023_10,
            Dflt::List(&["static", "totp", "webauthn", "duo", "sms"]),
        )
        .until(Current),
        field(
            "device_classes",
            Ty::ChoiceList {
                choices: DEVICE_CLASSES,
                allow_empty: true,
            },
            Current,
            Dflt::List(&["static", "totp", "webauthn", "duo", "sms", "email"]),
        ),
        field(
            "configuration_stages",
            Ty::M2m {
                target: Target::Stage,
                allow_empty: true,
            },
            V2023_10,
            Dflt::EmptyList,
        ),
        field(
            "last_auth_threshold",
            Ty::Duration,
            V2023_10,
            Dflt::Str("seconds=0"),
        ),
        field(
            "webauthn_user_verification",
            choice(USER_VERIFICATION),
            V2023_10,
            Dflt::Str("preferred"),
        ),
        field(
            "webauthn_allowed_device_types",
            Ty::M2m {
                target: Target::DeviceType,
                allow_empty: true,
            },
            V2024_4,
            Dflt::EmptyList,
        ),
        field(
            "webauthn_allowed_device_types_obj",
            Ty::Computed(Computed::EmptyObjs),
            V2024_4,
            Dflt::EmptyList,
        ),
    ],
    &[
        filter(
            "configuration_stages",
            FilterTy::M2m(Target::Stage),
            V2023_10,
        ),
        NAME,
        filter(
            "not_configured_action",
            FilterTy::Choice(NOT_CONFIGURED),
            V2023_10,
        ),
    ],
);

const CAPTCHA: KindSpec = stage(
    "stages/captcha",
    ("CaptchaStage", "authentik_stages_captcha", "captchastage"),
    "ak-stage-captcha-form",
    ("Captcha Stage", "Captcha Stages"),
    "Captcha Stage",
    &[
        field("public_key", TEXT, V2023_10, Dflt::Missing).required(),
        field(
            "private_key",
            Ty::Secret { blank: false },
            V2023_10,
            Dflt::Missing,
        )
        .required(),
        field(
            "js_url",
            TEXT,
            V2023_10,
            Dflt::Str("https://www.recaptcha.net/recaptcha/api.js"),
        ),
        field(
            "api_url",
            TEXT,
            V2023_10,
            Dflt::Str("https://www.recaptcha.net/recaptcha/api/siteverify"),
        ),
        field("interactive", Ty::Bool, Current, Dflt::Bool(false)),
        field("score_min_threshold", Ty::Float, Current, Dflt::Float(0.5)),
        field("score_max_threshold", Ty::Float, Current, Dflt::Float(1.0)),
        field(
            "error_on_invalid_score",
            Ty::Bool,
            Current,
            Dflt::Bool(true),
        ),
    ],
    &[NAME, filter("public_key", FilterTy::Exact, V2023_10)],
);

pub(super) fn spec(kind: Kind) -> Option<&'static KindSpec> {
    Some(match kind {
        Kind::AuthenticatorTotp => &TOTP,
        Kind::AuthenticatorWebauthn => &WEBAUTHN,
        Kind::AuthenticatorStatic => &STATIC,
        Kind::AuthenticatorValidate => &VALIDATE,
        Kind::Captcha => &CAPTCHA,
        _ => return None,
    })
}
