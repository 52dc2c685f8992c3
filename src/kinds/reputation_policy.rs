//! `ReputationPolicy`: authentik's reputation policy (`/api/v3/policies/reputation/`): passes
//! while the client IP's or username's score of failed logins stays above a threshold.

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "ReputationPolicy", shortname = "reppolicy",
    doc = "A reputation policy in authentik: fails for clients or usernames with too many failed logins.",
    /// The desired state of the policy. Fields left out are not managed.
    #[x_kube(validation = Rule::new("(has(self.checkIp) && self.checkIp) || (has(self.checkUsername) && self.checkUsername)").message("set checkIp or checkUsername (or both) to true: authentik refuses a reputation policy that checks neither"))]
    pub struct ReputationPolicySpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Log every execution as an event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub execution_logging: Option<bool>,
        /// Score the client's IP address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub check_ip: Option<bool>,
        /// Score the username.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub check_username: Option<bool>,
        /// The score at or below which the policy fails (authentik's default: -5).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = -2147483648, max = 2147483647))]
        pub threshold: Option<i32>,
    }
}

impl Kind for ReputationPolicy {
    const ENDPOINT: &'static str = "policies/reputation/";
    const MODEL: &'static str = "authentik_policies_reputation.reputationpolicy";
    const NOUN: &'static str = "policy";
    const KEY_SCOPE: &'static str = super::POLICIES;
    const UNIQUENESS: &'static str = "authentik policy names are unique across all policy kinds";
    const SET_FIELDS: &'static [&'static str] = &[];
    // authentik checks "IP or username" on the body alone: every PATCH carries both.
    const ALWAYS_SEND: &'static [&'static str] = &["check_ip", "check_username"];

    crate::crd::named_kind_methods!();

    fn check_spec(&self) -> Result<(), String> {
        let s = &self.spec;
        if s.check_ip != Some(true) && s.check_username != Some(true) {
            return Err("spec: set checkIp or checkUsername (or both) to true: authentik refuses a reputation policy that checks neither".into());
        }
        Ok(())
    }
}
