//! `RedirectStage`: authentik's redirect stage (`/api/v3/stages/redirect/`, authentik 2024.12
//! and later): sends the user to a URL or into another flow. On an older authentik the
//! resource says so in its condition and waits for an upgrade.

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::Target;
use crate::crd::{FlowRef, StageCommon, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the stage sends the user.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RedirectMode {
    /// To `targetStatic`.
    Static,
    /// Into `targetFlow`.
    Flow,
}

crate::crd::stage_spec! {
    kind = "RedirectStage", shortname = "redirectstage",
    doc = "A redirect stage in authentik (2024.12 and later): sends the user to a URL or into another flow.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct RedirectStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Where to send the user.
        pub mode: RedirectMode,
        /// With `mode: static`, the URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub target_static: Option<String>,
        /// With `mode: flow`, the flow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub target_flow: Option<FlowRef>,
        /// Keep the current flow's context when entering `targetFlow`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub keep_context: Option<bool>,
    }
}

impl Kind for RedirectStage {
    const ENDPOINT: &'static str = "stages/redirect/";
    const MODEL: &'static str = "authentik_stages_redirect.redirectstage";
    const SET_FIELDS: &'static [&'static str] = &[];
    // authentik checks the target the mode needs on the body alone.
    const ALWAYS_SEND: &'static [&'static str] = &["mode", "target_static", "target_flow"];
    const REFS: &'static [RefSpec] = &[RefSpec::one("targetFlow", Target::Flow)];

    crate::crd::named_kind_methods!();
}
