//! `IdentificationStage`: authentik's identification stage (`/api/v3/stages/identification/`).

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::Target;
use crate::crd::{FlowRef, SourceRef, StageCommon, StageRef, StageStatus};
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
    const REFS: &'static [RefSpec] = &[
        RefSpec::one("passwordStage", super::password::AS_TARGET),
        RefSpec::one("captchaStage", super::captcha::AS_TARGET),
        RefSpec::one("webauthnStage", super::authenticator_validate::AS_TARGET),
        RefSpec::one("enrollmentFlow", Target::Flow),
        RefSpec::one("recoveryFlow", Target::Flow),
        RefSpec::one("passwordlessFlow", Target::Flow),
        RefSpec::many("sources", Target::Source),
    ];

    crate::crd::named_kind_methods!();
}
