//! `IdentificationStage`: authentik's identification stage (`/api/v3/stages/identification/`).

use crate::crd::kind::{Kind, RefField};
use crate::crd::refs::Target;
use crate::crd::{FlowRef, Policies, SourceRef, StageCommon, StageRef, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// User attributes a user may identify with.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum UserField {
    Email,
    Username,
    Upn,
}

crate::crd::stage_spec! {
    kind = "IdentificationStage", shortname = "idstage",
    doc = "An identification stage in authentik: asks who the user is (by username, email or UPN, or through a source).",
    /// The desired state of the stage. Fields left out are not managed: the operator neither
    /// sends them nor reports them as drift.
    #[x_kube(validation = Rule::new("(has(self.userFields) && size(self.userFields) > 0) || (has(self.sources) && size(self.sources) > 0)").message("set userFields or sources (at least one of them non-empty): authentik refuses a stage with neither"))]
    pub struct IdentificationStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Fields a user can identify with. Order carries no meaning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_fields: Option<Vec<UserField>>,
        /// Password stage shown on the same page (a PasswordStage).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub password_stage: Option<StageRef>,
        /// Captcha stage run with this one (authentik 2024.10 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub captcha_stage: Option<StageRef>,
        /// WebAuthn (authenticator validation) stage for passkeys (authentik 2025.12 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webauthn_stage: Option<StageRef>,
        /// Match the identifier case-insensitively (authentik's default: true).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub case_insensitive_matching: Option<bool>,
        /// Show the matched user's name and avatar (authentik's default: true).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub show_matched_user: Option<bool>,
        /// Enrollment flow linked from this stage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enrollment_flow: Option<FlowRef>,
        /// Recovery flow linked from this stage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub recovery_flow: Option<FlowRef>,
        /// Passwordless flow linked from this stage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub passwordless_flow: Option<FlowRef>,
        /// Sources offered on this stage. Order carries no meaning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        // authentik sets no limit; ours bounds the cost of each source's CEL rule.
        #[schemars(length(max = 64))]
        pub sources: Option<Vec<SourceRef>>,
        /// Show source labels next to their icons.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub show_source_labels: Option<bool>,
        /// Pretend a user exists when it does not (authentik 2024.2 and later; default true).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pretend_user_exists: Option<bool>,
        /// Offer "remember me" (authentik 2025.4 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enable_remember_me: Option<bool>,
    }
}

impl Kind for IdentificationStage {
    const ENDPOINT: &'static str = "stages/identification/";
    const MODEL: &'static str = "authentik_stages_identification.identificationstage";
    const SET_FIELDS: &'static [&'static str] = &["user_fields", "sources"];
    // authentik validates an identification write on its body alone: a PATCH without both
    // of these is refused even when the stored stage is valid.
    const ALWAYS_SEND: &'static [&'static str] = &["user_fields", "sources"];

    fn referenced_kinds() -> Vec<&'static str> {
        vec!["PasswordStage", "Flow"]
    }

    fn policies(&self) -> &Policies {
        &self.spec.common.policies
    }

    fn spec_key(&self) -> Option<&str> {
        self.spec.common.name.as_deref()
    }

    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }

    fn references(&self) -> Vec<RefField> {
        let s = &self.spec;
        vec![
            RefField::one(
                "passwordStage",
                Target::PasswordStage,
                s.password_stage.as_ref().map(StageRef::by),
            ),
            RefField::one(
                "captchaStage",
                Target::CaptchaStage,
                s.captcha_stage.as_ref().map(StageRef::by),
            ),
            RefField::one(
                "webauthnStage",
                Target::AuthenticatorValidateStage,
                s.webauthn_stage.as_ref().map(StageRef::by),
            ),
            RefField::one(
                "enrollmentFlow",
                Target::Flow,
                s.enrollment_flow.as_ref().map(FlowRef::by),
            ),
            RefField::one(
                "recoveryFlow",
                Target::Flow,
                s.recovery_flow.as_ref().map(FlowRef::by),
            ),
            RefField::one(
                "passwordlessFlow",
                Target::Flow,
                s.passwordless_flow.as_ref().map(FlowRef::by),
            ),
            RefField::many(
                "sources",
                Target::Source,
                s.sources
                    .as_ref()
                    .map(|v| v.iter().map(SourceRef::by).collect()),
            ),
        ]
    }

    fn status(&self) -> Option<&StageStatus> {
        self.status.as_ref()
    }
}
