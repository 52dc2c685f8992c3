//! `AuthenticatorValidateStage`: authentik's MFA validation stage
//! (`/api/v3/stages/authenticator/validate/`).

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::{KindedRef, Target, UUID_PATTERN};
use crate::crd::{StageCommon, StageStatus, duration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Kinds of authenticator a user may validate with.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum DeviceClass {
    Static,
    Totp,
    Webauthn,
    Duo,
    Sms,
    /// Email codes (authentik 2025.2 and later).
    Email,
}

/// What happens to a user who has no authenticator of the allowed classes.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NotConfiguredAction {
    /// Let them through.
    Skip,
    /// Refuse them.
    Deny,
    /// Send them through a setup stage first (`configurationStages`).
    Configure,
}

/// How strongly WebAuthn asks for user verification (PIN, biometrics).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UserVerification {
    Required,
    Preferred,
    Discouraged,
}

/// Which kinds of WebAuthn authenticator the browser should offer first.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum WebAuthnHint {
    SecurityKey,
    ClientDevice,
    Hybrid,
}

crate::crd::stage_spec! {
    kind = "AuthenticatorValidateStage", shortname = "mfastage",
    doc = "An authenticator validation (MFA) stage in authentik: asks the user for a second factor of the allowed classes.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct AuthenticatorValidateStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Authenticator classes a user may validate with. Order carries no meaning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_classes: Option<Vec<DeviceClass>>,
        /// What to do with a user who has none (authentik's default: skip).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub not_configured_action: Option<NotConfiguredAction>,
        /// Setup stages offered when `notConfiguredAction` is `configure`: setup stage
        /// resources (`ref: {kind, name}`), authentik stage names or pks. Order carries no
        /// meaning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 64))]
        pub configuration_stages: Option<Vec<KindedRef<super::SetupStageKinds>>>,
        /// Skip validation if the user validated within this long, e.g. `hours=12`
        /// (`seconds=0`: always ask).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = duration::MAX_LEN))]
        #[x_kube(validation = Rule::new(duration::cel_rule()).message(duration::CEL_MESSAGE))]
        pub last_auth_threshold: Option<String>,
        /// WebAuthn user verification (authentik's default: preferred).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webauthn_user_verification: Option<UserVerification>,
        /// WebAuthn device types allowed (pks of authentik's device types; empty: any).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webauthn_allowed_device_types: Option<Vec<DeviceTypePk>>,
        /// WebAuthn hints for the browser (newer authentik releases).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webauthn_hints: Option<Vec<WebAuthnHint>>,
    }
}

/// The pk (UUID) of a WebAuthn device type.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(transparent)]
pub struct DeviceTypePk(#[schemars(regex(pattern = UUID_PATTERN))] pub String);

/// A reference to an MFA validation stage.
pub const AS_TARGET: Target = Target::Stage {
    kind: "AuthenticatorValidateStage",
    model: <AuthenticatorValidateStage as Kind>::MODEL,
};

impl Kind for AuthenticatorValidateStage {
    const ENDPOINT: &'static str = "stages/authenticator/validate/";
    const MODEL: &'static str =
        "authentik_stages_authenticator_validate.authenticatorvalidatestage";
    const SET_FIELDS: &'static [&'static str] = &[
        "device_classes",
        "configuration_stages",
        "webauthn_allowed_device_types",
        "webauthn_hints",
    ];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const REFS: &'static [RefSpec] = &[RefSpec::many("configurationStages", Target::SetupStage)];
    const DURATIONS: &'static [&'static str] = &["lastAuthThreshold"];

    crate::crd::named_kind_methods!();

    fn check_spec(&self) -> Result<(), String> {
        for (i, r) in self.spec.configuration_stages.iter().flatten().enumerate() {
            super::check_ref_kind(
                &format!("configurationStages[{i}]"),
                Target::SetupStage,
                r.by(),
            )?;
        }
        Ok(())
    }
}
