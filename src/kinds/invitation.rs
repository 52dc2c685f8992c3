//! `InvitationStage`: authentik's invitation stage (`/api/v3/stages/invitation/stages/`):
//! lets an enrollment flow continue only with a valid invitation.

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "InvitationStage", shortname = "invitestage",
    doc = "An invitation stage in authentik: an enrollment flow continues only with a valid invitation.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct InvitationStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Let the flow continue without an invitation (authentik's default: false).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub continue_flow_without_invitation: Option<bool>,
    }
}

impl Kind for InvitationStage {
    const ENDPOINT: &'static str = "stages/invitation/stages/";
    const MODEL: &'static str = "authentik_stages_invitation.invitationstage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];

    crate::crd::named_kind_methods!();
}
