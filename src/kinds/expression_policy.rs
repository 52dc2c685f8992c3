//! `ExpressionPolicy`: authentik's expression policy (`/api/v3/policies/expression/`): a
//! Python expression that decides. authentik compiles it on save; a syntax error is its 400,
//! shown in the resource's condition.

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "ExpressionPolicy", shortname = "exprpolicy",
    doc = "An expression policy in authentik: Python that returns True to pass.",
    /// The desired state of the policy. Fields left out are not managed.
    pub struct ExpressionPolicySpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// The Python source (a multi-line string: use `|` in YAML).
        #[schemars(length(min = 1))]
        pub expression: String,
        /// Log every execution as an event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub execution_logging: Option<bool>,
    }
}

impl Kind for ExpressionPolicy {
    const ENDPOINT: &'static str = "policies/expression/";
    const MODEL: &'static str = "authentik_policies_expression.expressionpolicy";
    const NOUN: &'static str = "policy";
    const KEY_SCOPE: &'static str = super::POLICIES;
    const UNIQUENESS: &'static str = "authentik policy names are unique across all policy kinds";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];

    crate::crd::named_kind_methods!();
}
