//! `AuthenticatorTOTPStage`: authentik's TOTP setup stage (`/api/v3/stages/authenticator/totp/`):
//! lets a user enrol an authenticator app; an MFA validation stage may offer it.

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::Target;
use crate::crd::{FlowRef, StageCommon, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Digits of a TOTP code, as authentik names the choices (strings).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digits {
    #[serde(rename = "6")]
    Six,
    #[serde(rename = "8")]
    Eight,
}

crate::crd::stage_spec! {
    kind = "AuthenticatorTOTPStage", shortname = "totpstage",
    doc = "A TOTP authenticator setup stage in authentik: lets a user enrol an authenticator app.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct AuthenticatorTOTPStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Flow a user goes through to set this authenticator up from their settings.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub configure_flow: Option<FlowRef>,
        /// Name of the enrolled device as the user sees it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub friendly_name: Option<String>,
        /// Digits per code: `"6"` or `"8"` (a string, as authentik stores it).
        pub digits: Digits,
    }
}

impl Kind for AuthenticatorTOTPStage {
    const ENDPOINT: &'static str = "stages/authenticator/totp/";
    const MODEL: &'static str = "authentik_stages_authenticator_totp.authenticatortotpstage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const REFS: &'static [RefSpec] = &[RefSpec::one("configureFlow", Target::Flow)];

    crate::crd::named_kind_methods!();
}
