//! `Prompt`: one field of a prompt form (`/api/v3/stages/prompt/prompts/`). Not a stage:
//! prompt names are unique among prompts, and prompt stages list them.

use crate::crd::kind::Kind;
use crate::crd::{StageCommon, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of field shown.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptType {
    #[serde(rename = "text")]
    Text,
    #[serde(rename = "text_area")]
    TextArea,
    #[serde(rename = "text_read_only")]
    TextReadOnly,
    #[serde(rename = "text_area_read_only")]
    TextAreaReadOnly,
    #[serde(rename = "username")]
    Username,
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "password")]
    Password,
    #[serde(rename = "number")]
    Number,
    #[serde(rename = "checkbox")]
    Checkbox,
    #[serde(rename = "radio-button-group")]
    RadioButtonGroup,
    #[serde(rename = "dropdown")]
    Dropdown,
    #[serde(rename = "date")]
    Date,
    #[serde(rename = "date-time")]
    DateTime,
    #[serde(rename = "file")]
    File,
    #[serde(rename = "separator")]
    Separator,
    #[serde(rename = "hidden")]
    Hidden,
    #[serde(rename = "static")]
    Static,
    #[serde(rename = "alert_info")]
    AlertInfo,
    #[serde(rename = "alert_warning")]
    AlertWarning,
    #[serde(rename = "alert_danger")]
    AlertDanger,
    #[serde(rename = "ak-locale")]
    AkLocale,
}

crate::crd::stage_spec! {
    kind = "Prompt", shortname = "akprompt",
    doc = "A prompt in authentik: one field of a form that prompt stages show (enrollment, password change).",
    /// The desired state of the prompt. Fields left out are not managed.
    pub struct PromptSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// The key the answer is stored under in the flow's context (e.g. `username`).
        #[schemars(length(min = 1))]
        pub field_key: String,
        /// The label shown.
        #[schemars(length(min = 1))]
        pub label: String,
        /// The kind of field.
        #[serde(rename = "type")]
        pub type_: PromptType,
        /// Whether an answer is required.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub required: Option<bool>,
        /// Placeholder text (or an expression, with `placeholderExpression`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub placeholder: Option<String>,
        /// Initial value (or an expression, with `initialValueExpression`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub initial_value: Option<String>,
        /// Position among a stage's prompts: lower first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = -2147483648, max = 2147483647))]
        pub order: Option<i32>,
        /// Help text shown below the field.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sub_text: Option<String>,
        /// `placeholder` is a Python expression evaluated by authentik.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub placeholder_expression: Option<bool>,
        /// `initialValue` is a Python expression evaluated by authentik.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub initial_value_expression: Option<bool>,
    }
}

impl Kind for Prompt {
    const ENDPOINT: &'static str = "stages/prompt/prompts/";
    const MODEL: &'static str = "authentik_stages_prompt.prompt";
    const NOUN: &'static str = "prompt";
    const KEY_SCOPE: &'static str = "stages/prompt/prompts/";
    const UNIQUENESS: &'static str = "authentik prompt names are unique";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];

    crate::crd::named_kind_methods!();
}
