//! The stages of enrollment, recovery and authorization flows: prompt, email, consent,
//! deny, dummy, invitation and redirect stages.

use super::stages::{NAME, STAGE_UUID, choice, stage};
use super::{
    BLANK_TEXT, Choice, Dflt, FilterTy, INT32, Kind, KindSpec, POSITIVE, TEXT, Target, Ty, always,
    field, filter,
};
use crate::profile::Profile::{Current, V2023_10};

const CONSENT_MODES: &[Choice] = &[
    always("always_require"),
    always("permanent"),
    always("expiring"),
];

const REDIRECT_MODES: &[Choice] = &[always("static"), always("flow")];

/// The templates authentik ships (custom templates are not modelled).
pub const EMAIL_TEMPLATES: &[Choice] = &[
    always("email/password_reset.html"),
    always("email/account_confirmation.html"),
];

const CONSENT: KindSpec = stage(
    "stages/consent",
    ("ConsentStage", "authentik_stages_consent", "consentstage"),
    "ak-stage-consent-form",
    ("Consent Stage", "Consent Stages"),
    "Consent Stage",
    &[
        field(
            "mode",
            choice(CONSENT_MODES),
            V2023_10,
            Dflt::Str("expiring"),
        ),
        field(
            "consent_expire_in",
            Ty::Duration,
            V2023_10,
            Dflt::Str("weeks=4"),
        ),
    ],
    &[
        filter("consent_expire_in", FilterTy::Exact, V2023_10),
        filter("mode", FilterTy::Choice(CONSENT_MODES), V2023_10),
        NAME,
        STAGE_UUID,
    ],
);

const DENY: KindSpec = stage(
    "stages/deny",
    ("DenyStage", "authentik_stages_deny", "denystage"),
    "ak-stage-deny-form",
    ("Deny Stage", "Deny Stages"),
    "Deny Stage",
    &[field("deny_message", BLANK_TEXT, V2023_10, Dflt::Str(""))],
    &[
        filter("deny_message", FilterTy::Exact, V2023_10),
        NAME,
        STAGE_UUID,
    ],
);

const DUMMY: KindSpec = stage(
    "stages/dummy",
    ("DummyStage", "authentik_stages_dummy", "dummystage"),
    "ak-stage-dummy-form",
    ("Dummy Stage", "Dummy Stages"),
    "Dummy Stage",
    &[field("throw_error", Ty::Bool, V2023_10, Dflt::Bool(false))],
    &[
        NAME,
        STAGE_UUID,
        filter("throw_error", FilterTy::Bool, V2023_10),
    ],
);

const EMAIL: KindSpec = KindSpec {
    options_fail: true,
    ..stage(
        "stages/email",
        ("EmailStage", "authentik_stages_email", "emailstage"),
        "ak-stage-email-form",
        ("Email Stage", "Email Stages"),
        "Email Stage",
        &[
            field("use_global_settings", Ty::Bool, V2023_10, Dflt::Bool(false)),
            field("host", TEXT, V2023_10, Dflt::Str("localhost")),
            field("port", INT32, V2023_10, Dflt::Int(25)),
            field("username", BLANK_TEXT, V2023_10, Dflt::Str("")),
            field(
                "password",
                Ty::Secret { blank: true },
                V2023_10,
                Dflt::Str(""),
            ),
            field("use_tls", Ty::Bool, V2023_10, Dflt::Bool(false)),
            field("use_ssl", Ty::Bool, V2023_10, Dflt::Bool(false)),
            field("timeout", INT32, V2023_10, Dflt::Int(10)),
            field(
                "from_address",
                Ty::Email,
                V2023_10,
                Dflt::Str("system@authentik.local"),
            ),
            // An integer of minutes up to 2025.x, a duration string since.
            field("token_expiry", INT32, V2023_10, Dflt::Int(30)).until(Current),
            field(
                "token_expiry",
                Ty::Duration,
                Current,
                Dflt::Str("minutes=30"),
            ),
            field("subject", TEXT, V2023_10, Dflt::Str("authentik")),
            field(
                "template",
                Ty::Template,
                V2023_10,
                Dflt::Str("email/password_reset.html"),
            ),
            field(
                "activate_user_on_success",
                Ty::Bool,
                V2023_10,
                Dflt::Bool(false),
            ),
            field("recovery_max_attempts", POSITIVE, Current, Dflt::Int(5)),
            field(
                "recovery_cache_timeout",
                Ty::Duration,
                Current,
                Dflt::Str("minutes=5"),
            ),
        ],
        &[
            NAME,
            filter("use_global_settings", FilterTy::Bool, V2023_10),
            filter("host", FilterTy::Exact, V2023_10),
            filter("port", FilterTy::Number, V2023_10),
            filter("username", FilterTy::Exact, V2023_10),
            filter("use_tls", FilterTy::Bool, V2023_10),
            filter("use_ssl", FilterTy::Bool, V2023_10),
            filter("timeout", FilterTy::Number, V2023_10),
            filter("from_address", FilterTy::Exact, V2023_10),
            filter("token_expiry", FilterTy::Exact, V2023_10),
            filter("subject", FilterTy::Exact, V2023_10),
            filter("template", FilterTy::Exact, V2023_10),
        ],
    )
};

const PROMPT_STAGE: KindSpec = stage(
    "stages/prompt/stages",
    ("PromptStage", "authentik_stages_prompt", "promptstage"),
    "ak-stage-prompt-form",
    ("Prompt Stage", "Prompt Stages"),
    "Prompt Stage",
    &[
        field(
            "fields",
            Ty::M2m {
                target: Target::Prompt,
                allow_empty: false,
            },
            V2023_10,
            Dflt::EmptyList,
        )
        .required(),
        field(
            "validation_policies",
            Ty::M2m {
                target: Target::Policy,
                allow_empty: true,
            },
            V2023_10,
            Dflt::EmptyList,
        ),
    ],
    &[
        filter("fields", FilterTy::M2m(Target::Prompt), V2023_10),
        NAME,
        STAGE_UUID,
        filter(
            "validation_policies",
            FilterTy::M2m(Target::Policy),
            V2023_10,
        ),
    ],
);

const INVITATION: KindSpec = stage(
    "stages/invitation/stages",
    (
        "InvitationStage",
        "authentik_stages_invitation",
        "invitationstage",
    ),
    "ak-stage-invitation-form",
    ("Invitation Stage", "Invitation Stages"),
    "Invitation Stage",
    &[field(
        "continue_flow_without_invitation",
        Ty::Bool,
        V2023_10,
        Dflt::Bool(false),
    )],
    &[
        filter("continue_flow_without_invitation", FilterTy::Bool, V2023_10),
        NAME,
        STAGE_UUID,
    ],
);

const REDIRECT: KindSpec = KindSpec {
    since: Current,
    ..stage(
        "stages/redirect",
        (
            "RedirectStage",
            "authentik_stages_redirect",
            "redirectstage",
        ),
        "ak-stage-redirect-form",
        ("Redirect Stage", "Redirect Stages"),
        "Redirect Stage",
        &[
            field("keep_context", Ty::Bool, Current, Dflt::Bool(true)),
            field("mode", choice(REDIRECT_MODES), Current, Dflt::Missing).required(),
            field("target_static", BLANK_TEXT, Current, Dflt::Str("")),
            field("target_flow", Ty::Fk(Target::Flow), Current, Dflt::Null),
        ],
        &[NAME],
    )
};

pub(super) fn spec(kind: Kind) -> Option<&'static KindSpec> {
    Some(match kind {
        Kind::Consent => &CONSENT,
        Kind::Deny => &DENY,
        Kind::Dummy => &DUMMY,
        Kind::Email => &EMAIL,
        Kind::PromptStage => &PROMPT_STAGE,
        Kind::Invitation => &INVITATION,
        Kind::Redirect => &REDIRECT,
        _ => return None,
    })
}
