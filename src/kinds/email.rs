//! `EmailStage`: authentik's email stage (`/api/v3/stages/email/`): sends a link or code
//! (recovery, address verification). Its SMTP password is write-only: it comes from a Secret.
//! `tokenExpiry` is a duration; releases before 2025.4 store whole minutes, and get them.

use crate::crd::kind::{Kind, LegacyForm};
use crate::crd::{SecretKeyRef, StageCommon, StageStatus, duration};
use serde_json::Value;

crate::crd::stage_spec! {
    kind = "EmailStage", shortname = "emailstage",
    doc = "An email stage in authentik: sends the user a link (recovery, verification); its SMTP password comes from a Secret.",
    /// The desired state of the stage. Fields left out are not managed.
    pub struct EmailStageSpec {
        #[serde(flatten)]
        pub common: StageCommon,
        /// Use authentik's global email settings instead of the SMTP fields below.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub use_global_settings: Option<bool>,
        /// SMTP host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1))]
        pub host: Option<String>,
        /// SMTP port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = -2147483648, max = 2147483647))]
        pub port: Option<i32>,
        /// SMTP user name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub username: Option<String>,
        /// The Secret key holding the SMTP password (read from the resource's namespace).
        /// authentik never returns it, so it cannot be drift-checked: it is sent on create and
        /// when the Secret's value changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub password_secret_ref: Option<SecretKeyRef>,
        /// STARTTLS.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub use_tls: Option<bool>,
        /// Implicit TLS.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub use_ssl: Option<bool>,
        /// SMTP timeout in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = -2147483648, max = 2147483647))]
        pub timeout: Option<i32>,
        /// Sender address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 254))]
        pub from_address: Option<String>,
        /// How long the link stays valid, e.g. `minutes=30` (older releases get whole
        /// minutes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = duration::MAX_LEN))]
        #[x_kube(validation = Rule::new(duration::cel_rule()).message(duration::CEL_MESSAGE))]
        pub token_expiry: Option<String>,
        /// Subject of the email.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1))]
        pub subject: Option<String>,
        /// Template, e.g. `email/password_reset.html` (authentik checks that it exists).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1))]
        pub template: Option<String>,
        /// Activate the user once they followed the link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub activate_user_on_success: Option<bool>,
        /// Recovery attempts allowed within `recoveryCacheTimeout` (authentik 2025.6 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 2147483647))]
        pub recovery_max_attempts: Option<i32>,
        /// Window of `recoveryMaxAttempts`, e.g. `minutes=5` (authentik 2025.6 and later).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = duration::MAX_LEN))]
        #[x_kube(validation = Rule::new(duration::cel_rule()).message(duration::CEL_MESSAGE))]
        pub recovery_cache_timeout: Option<String>,
    }
}

/// `tokenExpiry` as releases before 2025.4 store it: whole minutes.
fn whole_minutes(value: &Value) -> Result<Value, String> {
    let text = value.as_str().ok_or("not a duration string")?;
    let seconds = duration::seconds(text)?;
    if seconds % 60.0 != 0.0 || seconds < 0.0 {
        return Err(format!(
            "{text:?} is not a whole number of minutes, which is all this authentik release stores"
        ));
    }
    Ok(Value::from((seconds / 60.0) as i64))
}

impl Kind for EmailStage {
    const ENDPOINT: &'static str = "stages/email/";
    const MODEL: &'static str = "authentik_stages_email.emailstage";
    const SET_FIELDS: &'static [&'static str] = &[];
    const ALWAYS_SEND: &'static [&'static str] = &[];
    const SECRETS: &'static [(&'static str, &'static str)] = &[("passwordSecretRef", "password")];
    const DURATIONS: &'static [&'static str] = &["tokenExpiry", "recoveryCacheTimeout"];
    const LEGACY_FORMS: &'static [LegacyForm] = &[LegacyForm {
        field: "token_expiry",
        since: (2025, 4),
        encode: whole_minutes,
    }];

    crate::crd::named_kind_methods!();
}
