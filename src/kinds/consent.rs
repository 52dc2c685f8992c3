//! `ConsentStage`: authentik's consent stage (`/api/v3/stages/consent/`): asks the user to
//! agree before an application gets their data (the authorization flows).

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus, duration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How long a given consent holds.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    /// Ask every time.
    AlwaysRequire,
    /// Ask once.
    Permanent,
    /// Ask again after `consentExpireIn`.
    Expiring,
}

crate::crd::stage_spec! {
    kind = "ConsentStage", shortname = "consentstage",
    doc = "A consent stage in authentik: asks the user to agree before an application receives their data.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct ConsentStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// How long consent holds (authentik's default: always_require).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mode: Option<ConsentMode>,
        /// With `mode: expiring`, how long, e.g. `weeks=4`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = duration::MAX_LEN))]
        #[x_kube(validation = Rule::new(duration::cel_rule()).message(duration::CEL_MESSAGE))]
        pub consent_expire_in: Option<String>,
    }
}

impl Kind for ConsentStage {
    const ENDPOINT: &'static str = "stages/consent/";
    const MODEL: &'static str = "authentik_stages_consent.consentstage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const DURATIONS: &'static [&'static str] = &["consentExpireIn"];

    crate::crd::named_kind_methods!();
}
