//! `UserLoginStage`: authentik's user login stage (`/api/v3/stages/user_login/`).

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus, duration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bind the session to the client's network (authentik 2024.2 and later).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NetworkBinding {
    NoBinding,
    BindAsn,
    BindAsnNetwork,
    BindAsnNetworkIp,
}

/// Bind the session to the client's GeoIP location (authentik 2024.2 and later).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GeoipBinding {
    NoBinding,
    BindContinent,
    BindContinentCountry,
    BindContinentCountryCity,
}

crate::crd::stage_spec! {
    kind = "UserLoginStage", shortname = "loginstage",
    doc = "A user login stage in authentik: logs the pending user in and sets the session duration.",
    /// The desired state of the stage. Fields left out are not managed: the operator neither
    /// sends them nor reports them as drift.
    pub struct UserLoginStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// How long a session lasts, e.g. `hours=8`; `seconds=0` ends it with the browser.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = duration::MAX_LEN))]
        #[x_kube(validation = Rule::new(duration::cel_rule()).message(duration::CEL_MESSAGE))]
        pub session_duration: Option<String>,
        /// End the user's other sessions on login.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub terminate_other_sessions: Option<bool>,
        /// Offset added to the session when "remember me" is ticked; `seconds=0` hides it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = duration::MAX_LEN))]
        #[x_kube(validation = Rule::new(duration::cel_rule()).message(duration::CEL_MESSAGE))]
        pub remember_me_offset: Option<String>,
        /// Bind the session to the network (authentik 2024.2 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub network_binding: Option<NetworkBinding>,
        /// Bind the session to the GeoIP location (authentik 2024.2 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub geoip_binding: Option<GeoipBinding>,
        /// Lifetime of the device cookie (authentik 2025.8 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = duration::MAX_LEN))]
        #[x_kube(validation = Rule::new(duration::cel_rule()).message(duration::CEL_MESSAGE))]
        pub remember_device: Option<String>,
    }
}

impl Kind for UserLoginStage {
    const ENDPOINT: &'static str = "stages/user_login/";
    const MODEL: &'static str = "authentik_stages_user_login.userloginstage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const DURATIONS: &'static [&'static str] =
        &["sessionDuration", "rememberMeOffset", "rememberDevice"];

    crate::crd::named_kind_methods!();
}
