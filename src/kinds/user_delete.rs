//! `UserDeleteStage`: authentik's user delete stage (`/api/v3/stages/user_delete/`): deletes
//! the pending user (an unenrollment flow).

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "UserDeleteStage", shortname = "deletestage",
    doc = "A user delete stage in authentik: deletes the pending user (unenrollment).",
    /// The desired state of the stage: its name and policies only.
    pub struct UserDeleteStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
    }
}

impl Kind for UserDeleteStage {
    const ENDPOINT: &'static str = "stages/user_delete/";
    const MODEL: &'static str = "authentik_stages_user_delete.userdeletestage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];

    crate::crd::named_kind_methods!();
}
