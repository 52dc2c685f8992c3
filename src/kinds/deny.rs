//! `DenyStage`: authentik's deny stage (`/api/v3/stages/deny/`): stops the flow with a
//! message (bound behind a policy, it keeps some users out).

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "DenyStage", shortname = "denystage",
    doc = "A deny stage in authentik: stops the flow, with a message.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct DenyStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// The message shown (authentik's default: none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub deny_message: Option<String>,
    }
}

impl Kind for DenyStage {
    const ENDPOINT: &'static str = "stages/deny/";
    const MODEL: &'static str = "authentik_stages_deny.denystage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];

    crate::crd::named_kind_methods!();
}
