//! `AuthenticatorWebAuthnStage`: authentik's WebAuthn setup stage
//! (`/api/v3/stages/authenticator/webauthn/`): lets a user enrol a security key or passkey.

use super::authenticator_validate::{DeviceTypePk, UserVerification, WebAuthnHint};
use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::Target;
use crate::crd::{FlowRef, StageCommon, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a WebAuthn authenticator may live.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AuthenticatorAttachment {
    /// Built into the device (Touch ID, Windows Hello).
    Platform,
    /// A roaming key (USB, NFC, a phone).
    CrossPlatform,
}

crate::crd::stage_spec! {
    kind = "AuthenticatorWebAuthnStage", shortname = "webauthnstage",
    doc = "A WebAuthn authenticator setup stage in authentik: lets a user enrol a security key or passkey.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct AuthenticatorWebAuthnStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Flow a user goes through to set this authenticator up from their settings.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub configure_flow: Option<FlowRef>,
        /// Name of the enrolled device as the user sees it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub friendly_name: Option<String>,
        /// User verification asked for (authentik's default: preferred).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_verification: Option<UserVerification>,
        /// Platform or roaming authenticators only (unset: either).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub authenticator_attachment: Option<AuthenticatorAttachment>,
        /// Whether a discoverable credential (passkey) is asked for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resident_key_requirement: Option<UserVerification>,
        /// Hints for the browser (newer authentik releases).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hints: Option<Vec<WebAuthnHint>>,
        /// Device types allowed (pks of authentik's device types; empty: any).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_type_restrictions: Option<Vec<DeviceTypePk>>,
        /// Attempts before the enrolment fails (newer authentik releases; 0: no limit).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub max_attempts: Option<i32>,
    }
}

impl Kind for AuthenticatorWebAuthnStage {
    const ENDPOINT: &'static str = "stages/authenticator/webauthn/";
    const MODEL: &'static str =
        "authentik_stages_authenticator_webauthn.authenticatorwebauthnstage";
    const SET_FIELDS: &'static [&'static str] = &["hints", "device_type_restrictions"];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const REFS: &'static [RefSpec] = &[RefSpec::one("configureFlow", Target::Flow)];

    crate::crd::named_kind_methods!();
}
