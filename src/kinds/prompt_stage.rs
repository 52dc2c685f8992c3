//! `PromptStage`: authentik's prompt stage (`/api/v3/stages/prompt/stages/`): shows a form
//! of prompts and checks the answers with validation policies.

use crate::crd::kind::{Kind, RefSpec};
use crate::crd::refs::{KindedRef, NameRef, Target};
use crate::crd::{StageCommon, StageStatus};

crate::crd::stage_spec! {
    kind = "PromptStage", shortname = "promptstage",
    doc = "A prompt stage in authentik: shows a form made of prompts (enrollment, password change).",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct PromptStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// The prompts shown: `Prompt` resources (`ref`), prompt names or pks. At least one;
        /// order carries no meaning here (each prompt's own `order` does).
        #[schemars(length(min = 1, max = 256))]
        pub fields: Vec<NameRef>,
        /// Policies that check the answers: policy resources (`ref: {kind, name}`), policy
        /// names or pks. Order carries no meaning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 64))]
        pub validation_policies: Option<Vec<KindedRef<super::PolicyKinds>>>,
    }
}

impl Kind for PromptStage {
    const ENDPOINT: &'static str = "stages/prompt/stages/";
    const MODEL: &'static str = "authentik_stages_prompt.promptstage";
    const SET_FIELDS: &'static [&'static str] = &["fields", "validation_policies"];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const REFS: &'static [RefSpec] = &[
        RefSpec::many("fields", Target::Prompt),
        RefSpec::many("validationPolicies", Target::Policy),
    ];

    crate::crd::named_kind_methods!();

    fn check_spec(&self) -> Result<(), String> {
        for (i, r) in self.spec.validation_policies.iter().flatten().enumerate() {
            super::check_ref_kind(&format!("validationPolicies[{i}]"), Target::Policy, r.by())?;
        }
        Ok(())
    }
}
