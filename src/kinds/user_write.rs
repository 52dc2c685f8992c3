//! `UserWriteStage`: authentik's user write stage (`/api/v3/stages/user_write/`): writes the
//! answers of earlier prompts to the user, creating them if asked to.

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::{GroupRef, Target};
use crate::crd::{StageCommon, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether the stage creates users.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UserCreationMode {
    NeverCreate,
    CreateWhenRequired,
    AlwaysCreate,
}

/// The type of users it creates.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    Internal,
    External,
    ServiceAccount,
    InternalServiceAccount,
}

crate::crd::stage_spec! {
    kind = "UserWriteStage", shortname = "writestage",
    doc = "A user write stage in authentik: saves the flow's prompt answers to the user, creating the user if configured to.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct UserWriteStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Whether users are created (authentik's default: create_when_required).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_creation_mode: Option<UserCreationMode>,
        /// Create users inactive (to be activated later, e.g. by an email stage).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub create_users_as_inactive: Option<bool>,
        /// The authentik group new users join: by name or pk (groups are not resources of
        /// this operator).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub create_users_group: Option<GroupRef>,
        /// The type of new users (authentik's default: external).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_type: Option<UserType>,
        /// The path new users are placed under (e.g. `users/enrolled`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_path_template: Option<String>,
    }
}

impl Kind for UserWriteStage {
    const ENDPOINT: &'static str = "stages/user_write/";
    const MODEL: &'static str = "authentik_stages_user_write.userwritestage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const REFS: &'static [RefSpec] = &[RefSpec::one("createUsersGroup", Target::Group)];

    crate::crd::named_kind_methods!();
}
