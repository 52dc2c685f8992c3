//! Policy kinds (`PolicySerializer`'s subclasses) and prompt fields.

use super::{
    BLANK_TEXT, Choice, Computed, Dflt, EVENT_ACTIONS, Family, FieldSpec, FilterSpec, FilterTy,
    INT32, Kind, KindSpec, NULL_TEXT, POSITIVE, TEXT, Ty, always, field, filter,
};
use crate::profile::Profile::{Current, V2023_10};

/// `model`: the Django class, app label and model name.
const fn policy(
    path: &'static str,
    model: (&'static str, &'static str, &'static str),
    component: &'static str,
    verbose: (&'static str, &'static str),
    view: &'static str,
    fields: &'static [FieldSpec],
    filters: &'static [FilterSpec],
) -> KindSpec {
    KindSpec {
        family: Family::Policy,
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

const NAME: FilterSpec = filter("name", FilterTy::Exact, V2023_10);
const POLICY_UUID: FilterSpec = filter("policy_uuid", FilterTy::Pk, V2023_10);
const EXECUTION_LOGGING: FilterSpec = filter("execution_logging", FilterTy::Bool, V2023_10);

const EXPRESSION: KindSpec = policy(
    "policies/expression",
    (
        "ExpressionPolicy",
        "authentik_policies_expression",
        "expressionpolicy",
    ),
    "ak-policy-expression-form",
    ("Expression Policy", "Expression Policies"),
    "Expression Policy",
    &[field("expression", Ty::Expression, V2023_10, Dflt::Missing).required()],
    &[
        EXECUTION_LOGGING,
        filter("expression", FilterTy::Exact, V2023_10),
        NAME,
        POLICY_UUID,
    ],
);

const PASSWORD: KindSpec = policy(
    "policies/password",
    (
        "PasswordPolicy",
        "authentik_policies_password",
        "passwordpolicy",
    ),
    "ak-policy-password-form",
    ("Password Policy", "Password Policies"),
    "Password Policy",
    &[
        field("password_field", TEXT, V2023_10, Dflt::Str("password")),
        field("amount_digits", POSITIVE, V2023_10, Dflt::Int(0)),
        field("amount_uppercase", POSITIVE, V2023_10, Dflt::Int(0)),
        field("amount_lowercase", POSITIVE, V2023_10, Dflt::Int(0)),
        field("amount_symbols", POSITIVE, V2023_10, Dflt::Int(0)),
        field("length_min", POSITIVE, V2023_10, Dflt::Int(0)),
        field(
            "symbol_charset",
            TEXT,
            V2023_10,
            Dflt::Str("!\\\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ "),
        ),
        field("error_message", BLANK_TEXT, V2023_10, Dflt::Str("")),
        field("check_static_rules", Ty::Bool, V2023_10, Dflt::Bool(true)),
        field(
            "check_have_i_been_pwned",
            Ty::Bool,
            V2023_10,
            Dflt::Bool(false),
        ),
        field("check_zxcvbn", Ty::Bool, V2023_10, Dflt::Bool(false)),
        field("hibp_allowed_count", POSITIVE, V2023_10, Dflt::Int(0)),
        field("zxcvbn_score_threshold", POSITIVE, V2023_10, Dflt::Int(2)),
    ],
    &[
        filter("amount_digits", FilterTy::Number, V2023_10),
        filter("amount_lowercase", FilterTy::Number, V2023_10),
        filter("amount_symbols", FilterTy::Number, V2023_10),
        filter("amount_uppercase", FilterTy::Number, V2023_10),
        filter("check_have_i_been_pwned", FilterTy::Bool, V2023_10),
        filter("check_static_rules", FilterTy::Bool, V2023_10),
        filter("check_zxcvbn", FilterTy::Bool, V2023_10),
        filter("error_message", FilterTy::Exact, V2023_10),
        EXECUTION_LOGGING,
        filter("hibp_allowed_count", FilterTy::Number, V2023_10),
        filter("length_min", FilterTy::Number, V2023_10),
        NAME,
        filter("password_field", FilterTy::Exact, V2023_10),
        POLICY_UUID,
        filter("symbol_charset", FilterTy::Exact, V2023_10),
        filter("zxcvbn_score_threshold", FilterTy::Number, V2023_10),
    ],
);

const REPUTATION: KindSpec = policy(
    "policies/reputation",
    (
        "ReputationPolicy",
        "authentik_policies_reputation",
        "reputationpolicy",
    ),
    "ak-policy-reputation-form",
    ("Reputation Policy", "Reputation Policies"),
    "Reputation Policy",
    &[
        field("check_ip", Ty::Bool, V2023_10, Dflt::Bool(true)),
        field("check_username", Ty::Bool, V2023_10, Dflt::Bool(true)),
        field("threshold", INT32, V2023_10, Dflt::Int(-5)),
    ],
    &[
        filter("check_ip", FilterTy::Bool, V2023_10),
        filter("check_username", FilterTy::Bool, V2023_10),
        EXECUTION_LOGGING,
        NAME,
        POLICY_UUID,
        filter("threshold", FilterTy::Number, V2023_10),
    ],
);

const EVENT_MATCHER: KindSpec = policy(
    "policies/event_matcher",
    (
        "EventMatcherPolicy",
        "authentik_policies_event_matcher",
        "eventmatcherpolicy",
    ),
    "ak-policy-event-matcher-form",
    ("Event Matcher Policy", "Event Matcher Policies"),
    "Event Matcher Policy",
    &[
        field(
            "action",
            Ty::Choice {
                choices: EVENT_ACTIONS,
                null: true,
            },
            V2023_10,
            Dflt::Null,
        ),
        field("client_ip", NULL_TEXT, V2023_10, Dflt::Null),
        // Choices of installed apps and models in authentik; any text here.
        field("app", NULL_TEXT, V2023_10, Dflt::Null),
        field("model", NULL_TEXT, V2023_10, Dflt::Null),
    ],
    &[
        filter("action", FilterTy::Choice(EVENT_ACTIONS), V2023_10),
        filter("app", FilterTy::Exact, V2023_10),
        filter("client_ip", FilterTy::Exact, V2023_10),
        EXECUTION_LOGGING,
        filter("model", FilterTy::Exact, V2023_10),
        NAME,
        POLICY_UUID,
    ],
);

const PROMPT_TYPES: &[Choice] = &[
    always("text"),
    always("text_area"),
    always("text_read_only"),
    always("text_area_read_only"),
    always("username"),
    always("email"),
    always("password"),
    always("number"),
    always("checkbox"),
    always("radio-button-group"),
    always("dropdown"),
    always("date"),
    always("date-time"),
    always("file"),
    always("separator"),
    always("hidden"),
    always("static"),
    always("ak-locale"),
];

const PROMPT: KindSpec = KindSpec {
    family: Family::Prompt,
    path: "stages/prompt/prompts",
    since: V2023_10,
    class: "Prompt",
    app: "authentik_stages_prompt",
    model_name: "prompt",
    renamed: None,
    component: "",
    verbose_name: "Prompt",
    verbose_name_plural: "Prompts",
    view: "Prompt",
    fields: &[
        field("field_key", TEXT, V2023_10, Dflt::Missing).required(),
        field("label", TEXT, V2023_10, Dflt::Missing).required(),
        field(
            "type",
            Ty::Choice {
                choices: PROMPT_TYPES,
                null: false,
            },
            V2023_10,
            Dflt::Missing,
        )
        .required(),
        field("required", Ty::Bool, V2023_10, Dflt::Bool(true)),
        field("placeholder", BLANK_TEXT, V2023_10, Dflt::Str("")),
        field("initial_value", BLANK_TEXT, V2023_10, Dflt::Str("")),
        field("order", INT32, V2023_10, Dflt::Int(0)),
        field(
            "promptstage_set",
            Ty::Computed(Computed::PromptStageSet),
            V2023_10,
            Dflt::EmptyList,
        )
        .until(Current),
        field(
            "prompt_stages_obj",
            Ty::Computed(Computed::PromptStagesObj),
            Current,
            Dflt::EmptyList,
        ),
        field("sub_text", BLANK_TEXT, V2023_10, Dflt::Str("")),
        field(
            "placeholder_expression",
            Ty::Bool,
            V2023_10,
            Dflt::Bool(false),
        ),
        field(
            "initial_value_expression",
            Ty::Bool,
            V2023_10,
            Dflt::Bool(false),
        ),
    ],
    filters: &[
        filter("field_key", FilterTy::Exact, V2023_10),
        filter("label", FilterTy::Exact, V2023_10),
        NAME,
        filter("placeholder", FilterTy::Exact, V2023_10),
        filter("type", FilterTy::Choice(PROMPT_TYPES), V2023_10),
    ],
    search: &["field_key", "label", "type", "placeholder"],
    ordering: &["field_key"],
    options_fail: false,
};

pub(super) fn spec(kind: Kind) -> Option<&'static KindSpec> {
    Some(match kind {
        Kind::ExpressionPolicy => &EXPRESSION,
        Kind::PasswordPolicy => &PASSWORD,
        Kind::ReputationPolicy => &REPUTATION,
        Kind::EventMatcherPolicy => &EVENT_MATCHER,
        Kind::Prompt => &PROMPT,
        _ => return None,
    })
}
