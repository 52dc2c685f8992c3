//! `AuthenticatorStaticStage`: authentik's static-code setup stage
//! (`/api/v3/stages/authenticator/static/`): gives a user one-time recovery codes.

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::Target;
use crate::crd::{FlowRef, StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "AuthenticatorStaticStage", shortname = "staticstage",
    doc = "A static (recovery code) authenticator setup stage in authentik: gives a user one-time codes.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct AuthenticatorStaticStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Flow a user goes through to set this authenticator up from their settings.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub configure_flow: Option<FlowRef>,
        /// Name of the enrolled device as the user sees it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub friendly_name: Option<String>,
        /// How many codes a user gets (authentik's default: 6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub token_count: Option<i32>,
        /// Characters per code (authentik's default: 12; at most 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 100))]
        pub token_length: Option<i32>,
    }
}

impl Kind for AuthenticatorStaticStage {
    const ENDPOINT: &'static str = "stages/authenticator/static/";
    const MODEL: &'static str = "authentik_stages_authenticator_static.authenticatorstaticstage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const REFS: &'static [RefSpec] = &[RefSpec::one("configureFlow", Target::Flow)];

    crate::crd::named_kind_methods!();
}
