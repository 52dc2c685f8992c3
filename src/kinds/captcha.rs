//! `CaptchaStage`: authentik's captcha stage (`/api/v3/stages/captcha/`). Its private key is
//! write-only: authentik never returns it, so it comes from a Secret and is sent on create and
//! whenever the Secret's value changes.

use crate::crd::kind::Kind;
use crate::crd::refs::Target;
use crate::crd::{SecretKeyRef, StageCommon, StageStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the captcha's verification request is encoded.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestContentType {
    #[serde(rename = "application/x-www-form-urlencoded")]
    FormUrlencoded,
    #[serde(rename = "application/json")]
    Json,
}

crate::crd::stage_spec! {
    kind = "CaptchaStage", shortname = "captchastage",
    doc = "A captcha stage in authentik (reCAPTCHA, hCaptcha, Turnstile): its private key comes from a Secret.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct CaptchaStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// The site key the browser uses.
        #[schemars(length(min = 1))]
        pub public_key: String,
        /// The Secret key holding the private key (read from the resource's namespace). Never
        /// in the spec or status; authentik never returns it, so it cannot be drift-checked:
        /// it is sent on create and when the Secret's value changes.
        pub private_key_secret_ref: SecretKeyRef,
        /// URL of the captcha's script.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1))]
        pub js_url: Option<String>,
        /// URL the answer is verified at.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1))]
        pub api_url: Option<String>,
        /// Encoding of the verification request (newer authentik releases).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub request_content_type: Option<RequestContentType>,
        /// An interactive captcha (authentik 2024.6 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub interactive: Option<bool>,
        /// Lowest score that passes (score-based captchas).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub score_min_threshold: Option<f64>,
        /// Highest score that passes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub score_max_threshold: Option<f64>,
        /// Fail the stage on a score out of range, rather than go on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error_on_invalid_score: Option<bool>,
    }
}

/// A reference to a captcha stage.
pub const AS_TARGET: Target = Target::Stage {
    kind: "CaptchaStage",
    model: <CaptchaStage as Kind>::MODEL,
};

impl Kind for CaptchaStage {
    const ENDPOINT: &'static str = "stages/captcha/";
    const MODEL: &'static str = "authentik_stages_captcha.captchastage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const SECRETS: &'static [(&'static str, &'static str)] =
        &[("privateKeySecretRef", "private_key")];

    crate::crd::named_kind_methods!();
}
