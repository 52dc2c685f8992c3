//! `PasswordStage`: authentik's password stage (`/api/v3/stages/password/`).

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::Target;
use crate::crd::{FlowRef, StageCommon, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Authentication backends a password stage checks, as authentik names them.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The user database and password.
    #[serde(rename = "authentik.core.auth.InbuiltBackend")]
    Inbuilt,
    /// App passwords.
    #[serde(rename = "authentik.core.auth.TokenBackend")]
    Token,
    /// LDAP sources.
    #[serde(rename = "authentik.sources.ldap.auth.LDAPBackend")]
    Ldap,
    /// Kerberos sources (authentik 2024.10 and later).
    #[serde(rename = "authentik.sources.kerberos.auth.KerberosBackend")]
    Kerberos,
}

crate::crd::stage_spec! {
    kind = "PasswordStage", shortname = "pwstage",
    doc = "A password stage in authentik: checks the password of the user identified earlier in the flow.",
    /// The desired state of the stage. Fields left out are not managed: the operator neither
    /// sends them nor reports them as drift.
    pub struct PasswordStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Backends to check the password against. Order carries no meaning.
        // authentik refuses an empty list ("This list may not be empty."), which its schema
        // does not say.
        #[schemars(length(min = 1))]
        pub backends: Vec<Backend>,
        /// Flow a user is sent to to change their password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub configure_flow: Option<FlowRef>,
        /// Failed attempts before the flow is cancelled (authentik's default: 5).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = -2147483648, max = 2147483647))]
        pub failed_attempts_before_cancel: Option<i32>,
        /// Show a toggle to reveal the password (authentik 2024.8 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allow_show_password: Option<bool>,
    }
}

/// A reference to a password stage.
pub const AS_TARGET: Target = Target::Stage {
    kind: "PasswordStage",
    model: <PasswordStage as Kind>::MODEL,
};

impl Kind for PasswordStage {
    const ENDPOINT: &'static str = "stages/password/";
    const MODEL: &'static str = "authentik_stages_password.passwordstage";
    const SET_FIELDS: &'static [&'static str] = &["backends"];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const REFS: &'static [RefSpec] = &[RefSpec::one("configureFlow", Target::Flow)];

    crate::crd::named_kind_methods!();
}
