//! The kinds under test, one row each: adding a kind to these tests is adding its row.

use serde_json::{Value, json};

pub struct Row {
    pub kind: &'static str,
    /// Short, for resource and authentik names (unique across rows).
    pub short: &'static str,
    /// A valid spec (its authentik name and policies are added by each test).
    pub spec: Value,
    /// A spec field to change and its new value: authentik shows the value under the
    /// field's snake_case name.
    pub change: (&'static str, Value),
    /// Body fields someone changes in authentik behind the operator's back: managed fields,
    /// so the operator puts them back.
    pub drift: Value,
    /// A spec overlay (`null` removes a key) the API server refuses, and the field its
    /// message names.
    pub bad: (Value, &'static str),
}

/// The Secrets the rows read: (name, key, value).
pub const SECRETS: &[(&str, &str, &str)] = &[("captcha-keys", "private", "row-private-key")];

pub fn rows() -> Vec<Row> {
    vec![
        Row {
            kind: "AuthenticatorValidateStage",
            short: "mfa",
            spec: json!({"deviceClasses": ["totp", "webauthn"], "notConfiguredAction": "skip",
                         "lastAuthThreshold": "hours=1"}),
            change: ("lastAuthThreshold", json!("hours=12")),
            drift: json!({"not_configured_action": "deny", "device_classes": ["static"]}),
            bad: (
                json!({"deviceClasses": ["yubikey"]}),
                "spec.deviceClasses[0]",
            ),
        },
        Row {
            kind: "AuthenticatorTOTPStage",
            short: "totp",
            spec: json!({"digits": "6", "friendlyName": "Authenticator app"}),
            change: ("digits", json!("8")),
            drift: json!({"friendly_name": "changed in the UI"}),
            bad: (json!({"digits": "7"}), "spec.digits"),
        },
        Row {
            kind: "AuthenticatorWebAuthnStage",
            short: "webauthn",
            spec: json!({"userVerification": "preferred", "residentKeyRequirement": "preferred"}),
            change: ("userVerification", json!("required")),
            drift: json!({"resident_key_requirement": "discouraged"}),
            bad: (
                json!({"userVerification": "always"}),
                "spec.userVerification",
            ),
        },
        Row {
            kind: "AuthenticatorStaticStage",
            short: "static",
            spec: json!({"tokenCount": 6, "tokenLength": 12}),
            change: ("tokenCount", json!(10)),
            drift: json!({"token_length": 20}),
            bad: (json!({"tokenLength": 101}), "spec.tokenLength"),
        },
        Row {
            kind: "PromptStage",
            short: "prompts",
            spec: json!({"fields": [{"name": "default-source-enrollment-field-username"}],
                         "validationPolicies": [{"name": "default-source-enrollment-if-username"}]}),
            change: ("validationPolicies", json!([])),
            drift: json!({"validation_policies": []}),
            bad: (json!({"fields": []}), "spec.fields"),
        },
        Row {
            kind: "Prompt",
            short: "prompt",
            spec: json!({"fieldKey": "nickname", "label": "Nickname", "type": "text",
                         "required": false, "order": 10}),
            change: ("label", json!("Your nickname")),
            drift: json!({"required": true, "order": 99}),
            bad: (json!({"type": "colour"}), "spec.type"),
        },
        Row {
            kind: "UserWriteStage",
            short: "write",
            spec: json!({"userCreationMode": "create_when_required", "createUsersAsInactive": false,
                         "userType": "external"}),
            change: ("createUsersAsInactive", json!(true)),
            drift: json!({"user_type": "internal"}),
            bad: (
                json!({"userCreationMode": "sometimes"}),
                "spec.userCreationMode",
            ),
        },
        // Logout and delete stages have nothing but their name.
        Row {
            kind: "UserLogoutStage",
            short: "logout",
            spec: json!({}),
            change: ("name", json!("kinds-logout-renamed")),
            drift: json!({"name": "logout-renamed-in-the-ui"}),
            bad: (json!({"name": " padded"}), "spec.name"),
        },
        Row {
            kind: "UserDeleteStage",
            short: "unenroll",
            spec: json!({}),
            change: ("name", json!("kinds-unenroll-renamed")),
            drift: json!({"name": "unenroll-renamed-in-the-ui"}),
            bad: (json!({"deletionPolicy": "Keep"}), "spec.deletionPolicy"),
        },
        Row {
            kind: "ConsentStage",
            short: "consent",
            spec: json!({"mode": "expiring", "consentExpireIn": "weeks=4"}),
            change: ("consentExpireIn", json!("days=1")),
            drift: json!({"mode": "permanent"}),
            bad: (
                json!({"consentExpireIn": "four weeks"}),
                "spec.consentExpireIn",
            ),
        },
        Row {
            kind: "DenyStage",
            short: "deny",
            spec: json!({"denyMessage": "Not for you"}),
            change: ("denyMessage", json!("Go away")),
            drift: json!({"deny_message": "changed in the UI"}),
            bad: (json!({"denyMessage": 5}), "spec.denyMessage"),
        },
        Row {
            kind: "InvitationStage",
            short: "invite",
            spec: json!({"continueFlowWithoutInvitation": false}),
            change: ("continueFlowWithoutInvitation", json!(true)),
            drift: json!({"continue_flow_without_invitation": true}),
            bad: (
                json!({"continueFlowWithoutInvitation": "yes"}),
                "spec.continueFlowWithoutInvitation",
            ),
        },
        Row {
            kind: "CaptchaStage",
            short: "captcha",
            spec: json!({"publicKey": "site-key", "privateKeySecretRef": {"name": "captcha-keys", "key": "private"},
                         "jsUrl": "https://www.recaptcha.net/recaptcha/api.js",
                         "apiUrl": "https://www.recaptcha.net/recaptcha/api/siteverify"}),
            change: ("publicKey", json!("site-key-2")),
            drift: json!({"public_key": "changed-in-the-ui"}),
            bad: (
                json!({"privateKeySecretRef": null}),
                "spec.privateKeySecretRef",
            ),
        },
        Row {
            kind: "EmailStage",
            short: "email",
            spec: json!({"useGlobalSettings": true, "subject": "Reset your password",
                         "tokenExpiry": "minutes=30", "template": "email/password_reset.html"}),
            change: ("subject", json!("Your account")),
            drift: json!({"token_expiry": "hours=2", "subject": "changed in the UI"}),
            bad: (json!({"tokenExpiry": "half an hour"}), "spec.tokenExpiry"),
        },
        Row {
            kind: "RedirectStage",
            short: "redirect",
            spec: json!({"mode": "static", "targetStatic": "https://example.com/"}),
            change: ("targetStatic", json!("https://example.org/")),
            drift: json!({"target_static": "https://elsewhere.example/"}),
            bad: (json!({"mode": "teleport"}), "spec.mode"),
        },
    ]
}

impl Row {
    /// The resource (and authentik) name of this row's object in a test step.
    pub fn name(&self, step: &str) -> String {
        format!("{}-{step}", self.short)
    }

    /// The spec with an authentik name and spec keys set over it.
    pub fn spec_with(&self, name: &str, extra: Value) -> Value {
        let mut spec = crate::dynamic::merged(&self.spec, &json!({"name": name}));
        spec = crate::dynamic::merged(&spec, &extra);
        spec
    }
}

/// Every registered kind that is a stage of a fresh install's flows beyond the first three,
/// or a prompt, has its row: a kind added to the registry without one fails here.
#[test]
fn every_new_kind_has_a_row() {
    let have: Vec<&str> = rows().iter().map(|r| r.kind).collect();
    let mut missing = Vec::new();
    for kind in authentik_operator::kinds::stage_kinds()
        .into_iter()
        .chain(["Prompt"])
    {
        let first = ["PasswordStage", "IdentificationStage", "UserLoginStage"];
        if !first.contains(&kind) && !have.contains(&kind) {
            missing.push(kind);
        }
    }
    assert!(missing.is_empty(), "kinds without a row: {missing:?}");
    let mut shorts: Vec<&str> = rows().iter().map(|r| r.short).collect();
    shorts.sort();
    shorts.dedup();
    assert_eq!(shorts.len(), rows().len(), "short names are unique");
}
