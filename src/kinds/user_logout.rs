//! `UserLogoutStage`: authentik's user logout stage (`/api/v3/stages/user_logout/`): ends the
//! user's session (the default invalidation flow's one stage).

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "UserLogoutStage", shortname = "logoutstage",
    doc = "A user logout stage in authentik: ends the user's session.",
    /// The desired state of the stage: its name and policies only.
    pub struct UserLogoutStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
    }
}

impl Kind for UserLogoutStage {
    const ENDPOINT: &'static str = "stages/user_logout/";
    const MODEL: &'static str = "authentik_stages_user_logout.userlogoutstage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];

    crate::crd::named_kind_methods!();
}
