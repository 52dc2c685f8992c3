//! `PasswordPolicy`: authentik's password policy (`/api/v3/policies/password/`): rules a new
//! password must meet (length, character classes, zxcvbn, Have I Been Pwned).

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "PasswordPolicy", shortname = "pwpolicy",
    doc = "A password policy in authentik: what a new password must meet.",
    /// The desired state of the policy. Fields left out are not managed.
    pub struct PasswordPolicySpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Log every execution as an event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub execution_logging: Option<bool>,
        /// The prompt field holding the password (authentik's default: password).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1))]
        pub password_field: Option<String>,
        /// Digits required.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub amount_digits: Option<i32>,
        /// Upper-case letters required.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub amount_uppercase: Option<i32>,
        /// Lower-case letters required.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub amount_lowercase: Option<i32>,
        /// Symbols (of `symbolCharset`) required.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub amount_symbols: Option<i32>,
        /// Minimum length.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub length_min: Option<i32>,
        /// The characters that count as symbols.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1))]
        pub symbol_charset: Option<String>,
        /// The message shown when a password fails.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error_message: Option<String>,
        /// Check the length and character rules above.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub check_static_rules: Option<bool>,
        /// Refuse passwords found in Have I Been Pwned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub check_have_i_been_pwned: Option<bool>,
        /// Refuse passwords zxcvbn scores below `zxcvbnScoreThreshold`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub check_zxcvbn: Option<bool>,
        /// How often a password may appear in Have I Been Pwned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub hibp_allowed_count: Option<i32>,
        /// The zxcvbn score a password needs (0 to 4).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub zxcvbn_score_threshold: Option<i32>,
    }
}

impl Kind for PasswordPolicy {
    const ENDPOINT: &'static str = "policies/password/";
    const MODEL: &'static str = "authentik_policies_password.passwordpolicy";
    const NOUN: &'static str = "policy";
    const KEY_SCOPE: &'static str = super::POLICIES;
    const UNIQUENESS: &'static str = "authentik policy names are unique across all policy kinds";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];

    crate::crd::named_kind_methods!();
}
