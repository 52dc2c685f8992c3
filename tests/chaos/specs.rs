//! The client's table of valid specs per kind: a fresh spec (its references to live
//! resources of the run, or to what a fresh install holds) and the changes a person makes to
//! it. Every registered kind must have an entry (`covers`); the values are written so that
//! authentik stores them as written (the checker compares them as they are).

use serde_json::{Value, json};

/// Something live to refer to: the names of the resources of a kind that exist and are not
/// being deleted.
pub type Live<'a> = &'a (dyn Fn(&str) -> Vec<String> + Sync);

pub struct Ctx<'a> {
    pub rng: &'a mut fastrand::Rng,
    pub live: Live<'a>,
    /// A number used nowhere else in the run (for names and orders).
    pub fresh: u64,
}

/// A fresh spec needs a resource of this kind first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need(pub &'static str);

/// A group and a secret the run creates before it starts.
pub const GROUP: &str = "soak-group";
pub const SECRET: &str = "soak-secrets";

const STAGE_KINDS: [&str; 17] = [
    "PasswordStage",
    "IdentificationStage",
    "UserLoginStage",
    "AuthenticatorValidateStage",
    "AuthenticatorTOTPStage",
    "AuthenticatorWebAuthnStage",
    "AuthenticatorStaticStage",
    "PromptStage",
    "UserWriteStage",
    "UserLogoutStage",
    "UserDeleteStage",
    "ConsentStage",
    "DenyStage",
    "InvitationStage",
    "CaptchaStage",
    "EmailStage",
    "RedirectStage",
];
const POLICY_KINDS: [&str; 3] = ["ExpressionPolicy", "PasswordPolicy", "ReputationPolicy"];

impl Ctx<'_> {
    fn coin(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    fn int(&mut self, lo: i64, hi: i64) -> Value {
        json!(self.rng.i64(lo..=hi))
    }

    fn one(&mut self, choices: &[&str]) -> Value {
        json!(choices[self.rng.usize(..choices.len())])
    }

    /// A non-empty subset, in a random order (set fields compare as sets).
    fn some(&mut self, choices: &[&str]) -> Value {
        let mut picked: Vec<&str> = choices.iter().copied().filter(|_| self.coin(0.5)).collect();
        if picked.is_empty() {
            picked.push(choices[self.rng.usize(..choices.len())]);
        }
        self.rng.shuffle(&mut picked);
        json!(picked)
    }

    fn pick(&mut self, kind: &str) -> Option<String> {
        let names = (self.live)(kind);
        (!names.is_empty()).then(|| names[self.rng.usize(..names.len())].clone())
    }

    /// A live resource of one of `kinds`, as `{kind, name}`.
    fn pick_of(&mut self, kinds: &[&'static str]) -> Option<Value> {
        let all: Vec<(&str, String)> = kinds
            .iter()
            .flat_map(|k| (self.live)(k).into_iter().map(move |n| (*k, n)))
            .collect();
        (!all.is_empty()).then(|| {
            let (kind, name) = &all[self.rng.usize(..all.len())];
            json!({"kind": kind, "name": name})
        })
    }

    /// A flow: a live Flow resource, else a fresh install's flow by slug.
    fn flow(&mut self, default_slug: &str) -> Value {
        match self.pick("Flow").filter(|_| self.coin(0.6)) {
            Some(name) => json!({"ref": name}),
            None => json!({"slug": default_slug}),
        }
    }

    fn text(&mut self, what: &str) -> Value {
        json!(format!("{what} {}", self.fresh))
    }
}

/// Whether the table has an entry for `kind`.
pub fn covers(kind: &str) -> bool {
    STAGE_KINDS.contains(&kind)
        || POLICY_KINDS.contains(&kind)
        || ["Prompt", "Flow", "FlowStageBinding", "PolicyBinding"].contains(&kind)
}

/// The authentik name of a new resource: unique in the run.
fn name_for(meta: &str) -> Value {
    json!(format!("soak-{meta}"))
}

/// A fresh spec for a resource `meta` of `kind`.
pub fn fresh(kind: &str, cx: &mut Ctx, meta: &str) -> Result<Value, Need> {
    let mut spec = build(kind, cx, meta)?;
    if let Some(object) = spec.as_object_mut() {
        object.retain(|_, v| !v.is_null());
    }
    Ok(spec)
}

/// A fresh spec, with nulls for the fields it leaves unset that a change must clear (the
/// one-of fields of a policy binding, a redirect's other target).
fn build(kind: &str, cx: &mut Ctx, meta: &str) -> Result<Value, Need> {
    let mut spec = match kind {
        "Flow" => json!({
            "name": cx.text("Soak flow"), "title": cx.text("Welcome"),
            "designation": cx.one(&["authentication", "enrollment", "recovery", "stage_configuration"]),
            "layout": cx.one(&["stacked", "content_left", "sidebar_right"]),
            "policyEngineMode": cx.one(&["all", "any"]),
        }),
        "FlowStageBinding" => {
            let flow = cx.pick("Flow").ok_or(Need("Flow"))?;
            let stage = cx.pick_of(&STAGE_KINDS).ok_or(Need("DenyStage"))?;
            json!({"flow": {"ref": flow}, "stage": {"ref": stage}, "order": cx.fresh,
                   "evaluateOnPlan": cx.coin(0.5), "reEvaluatePolicies": cx.coin(0.5),
                   "invalidResponseAction": cx.one(&["retry", "restart", "restart_with_context"])})
        }
        "PolicyBinding" => {
            let target = cx
                .pick_of(&["Flow", "FlowStageBinding"])
                .ok_or(Need("FlowStageBinding"))?;
            let mut spec = json!({"target": {"ref": target}, "order": cx.fresh,
                                  "negate": cx.coin(0.3), "timeout": cx.int(1, 60)});
            spec.as_object_mut().unwrap().extend(bound(cx)?);
            spec
        }
        "PasswordStage" => json!({
            "backends": cx.some(&["authentik.core.auth.InbuiltBackend", "authentik.core.auth.TokenBackend",
                                  "authentik.sources.ldap.auth.LDAPBackend"]),
            "configureFlow": cx.flow("default-password-change"),
            "failedAttemptsBeforeCancel": cx.int(1, 9), "allowShowPassword": cx.coin(0.5),
        }),
        "IdentificationStage" => {
            let mut spec = json!({"userFields": cx.some(&["email", "username", "upn"]),
                                  "caseInsensitiveMatching": cx.coin(0.5), "showMatchedUser": cx.coin(0.5),
                                  "pretendUserExists": cx.coin(0.5)});
            if let Some(pw) = cx.pick("PasswordStage") {
                spec["passwordStage"] = json!({"ref": pw});
            }
            if cx.coin(0.3) {
                spec["sources"] = json!([{"slug": "authentik-built-in"}]);
            }
            if cx.coin(0.4) {
                spec["enrollmentFlow"] = cx.flow("default-source-enrollment");
            }
            spec
        }
        "UserLoginStage" => json!({
            "sessionDuration": format!("hours={}", cx.rng.u8(1..24)),
            "terminateOtherSessions": cx.coin(0.5),
            "rememberMeOffset": format!("days={}", cx.rng.u8(0..30)),
            "networkBinding": cx.one(&["no_binding", "bind_asn", "bind_asn_network"]),
            "geoipBinding": cx.one(&["no_binding", "bind_continent"]),
        }),
        "AuthenticatorValidateStage" => {
            let mut spec = json!({"deviceClasses": cx.some(&["static", "totp", "webauthn", "duo"]),
                                  "notConfiguredAction": cx.one(&["skip", "deny"]),
                                  "lastAuthThreshold": format!("minutes={}", cx.rng.u8(0..60)),
                                  "webauthnUserVerification": cx.one(&["required", "preferred"])});
            if let Some(setup) = cx.pick_of(&[
                "AuthenticatorTOTPStage",
                "AuthenticatorWebAuthnStage",
                "AuthenticatorStaticStage",
            ]) {
                spec["configurationStages"] = json!([{"ref": setup}]);
            }
            spec
        }
        "AuthenticatorTOTPStage" => json!({
            "digits": cx.one(&["6", "8"]), "friendlyName": cx.text("TOTP"),
            "configureFlow": cx.flow("default-authenticator-totp-setup"),
        }),
        "AuthenticatorWebAuthnStage" => json!({
            "friendlyName": cx.text("Key"), "userVerification": cx.one(&["required", "preferred", "discouraged"]),
            "residentKeyRequirement": cx.one(&["required", "preferred"]), "maxAttempts": cx.int(0, 9),
        }),
        "AuthenticatorStaticStage" => json!({
            "tokenCount": cx.int(1, 12), "tokenLength": cx.int(8, 20), "friendlyName": cx.text("Codes"),
        }),
        "PromptStage" => {
            let prompt = cx.pick("Prompt").ok_or(Need("Prompt"))?;
            let mut spec = json!({"fields": [{"ref": prompt}]});
            if let Some(policy) = cx.pick_of(&POLICY_KINDS) {
                spec["validationPolicies"] = json!([{"ref": policy}]);
            }
            spec
        }
        "UserWriteStage" => json!({
            "userCreationMode": cx.one(&["never_create", "create_when_required", "always_create"]),
            "createUsersAsInactive": cx.coin(0.5), "createUsersGroup": {"name": GROUP},
            "userType": cx.one(&["internal", "external"]), "userPathTemplate": "users/soak",
        }),
        "UserLogoutStage" | "UserDeleteStage" => json!({}),
        "ConsentStage" => json!({
            "mode": cx.one(&["always_require", "permanent", "expiring"]),
            "consentExpireIn": format!("weeks={}", cx.rng.u8(1..8)),
        }),
        "DenyStage" => json!({"denyMessage": cx.text("Denied")}),
        "InvitationStage" => json!({"continueFlowWithoutInvitation": cx.coin(0.5)}),
        "CaptchaStage" => json!({
            "publicKey": cx.text("public"), "privateKeySecretRef": {"name": SECRET, "key": "captcha"},
            "interactive": cx.coin(0.5), "scoreMinThreshold": 0.25, "scoreMaxThreshold": 1.0,
        }),
        "EmailStage" => json!({
            "useGlobalSettings": false, "host": "smtp.example.com", "port": cx.int(25, 600),
            "username": "soak", "passwordSecretRef": {"name": SECRET, "key": "smtp"},
            "useTls": cx.coin(0.5), "timeout": cx.int(5, 30), "fromAddress": "soak@example.com",
            "tokenExpiry": format!("minutes={}", cx.rng.u8(5..60)), "subject": cx.text("Subject"),
            "template": cx.one(&["email/password_reset.html", "email/account_confirmation.html"]),
        }),
        "RedirectStage" => redirect(cx),
        "Prompt" => json!({
            "fieldKey": format!("soak_{}", cx.fresh), "label": cx.text("Label"),
            "type": cx.one(&["text", "email", "number", "checkbox"]), "required": cx.coin(0.5),
            "placeholder": cx.text("Placeholder"), "order": cx.int(0, 100),
        }),
        "ExpressionPolicy" => {
            json!({"expression": expression(cx), "executionLogging": cx.coin(0.3)})
        }
        "PasswordPolicy" => json!({
            "lengthMin": cx.int(6, 20), "amountDigits": cx.int(0, 3), "amountSymbols": cx.int(0, 3),
            "checkStaticRules": true, "errorMessage": cx.text("Too weak"),
        }),
        "ReputationPolicy" => {
            json!({"checkIp": true, "checkUsername": cx.coin(0.5), "threshold": cx.int(-9, -1)})
        }
        other => panic!("no spec for {other}: add it to tests/chaos/specs.rs"),
    };
    if STAGE_KINDS.contains(&kind) || POLICY_KINDS.contains(&kind) || kind == "Prompt" {
        spec["name"] = name_for(meta);
    }
    Ok(spec)
}

/// What a policy binding binds: a policy resource, the run's group or a user.
fn bound(cx: &mut Ctx) -> Result<serde_json::Map<String, Value>, Need> {
    let mut out = serde_json::Map::new();
    for key in ["policy", "group", "user"] {
        out.insert(key.into(), Value::Null);
    }
    match cx.rng.u8(0..4) {
        0 => out["group"] = json!({"name": GROUP}),
        1 => out["user"] = json!({"username": "akadmin"}),
        _ => {
            let policy = cx.pick_of(&POLICY_KINDS).ok_or(Need("ExpressionPolicy"))?;
            out["policy"] = json!({"ref": policy});
        }
    }
    Ok(out)
}

fn redirect(cx: &mut Ctx) -> Value {
    match cx.pick("Flow").filter(|_| cx.coin(0.5)) {
        Some(flow) => json!({"mode": "flow", "targetFlow": {"ref": flow}, "targetStatic": null,
                             "keepContext": cx.coin(0.5)}),
        None => {
            json!({"mode": "static", "targetStatic": format!("https://example.com/{}", cx.fresh),
                       "targetFlow": null})
        }
    }
}

fn expression(cx: &mut Ctx) -> Value {
    json!(format!(
        "return request.user.username != \"blocked-{}\"",
        cx.fresh
    ))
}

/// A change to `spec` of a resource `meta` of `kind`: a JSON merge patch of the spec.
pub fn change(kind: &str, cx: &mut Ctx, meta: &str, spec: &Value) -> Value {
    let named = STAGE_KINDS.contains(&kind) || POLICY_KINDS.contains(&kind) || kind == "Prompt";
    if named && cx.coin(0.15) {
        return json!({"name": format!("soak-{meta}-r{}", cx.fresh)});
    }
    let mut fresh = match build(kind, cx, meta) {
        Ok(f) => f,
        Err(_) => return json!({}),
    };
    let object = fresh.as_object_mut().expect("an object");
    // The key stays (a rename is its own change); references stay unless chosen below.
    object.remove("name");
    match kind {
        "Flow" => {
            object.remove("designation");
            if cx.coin(0.1) {
                object.insert("slug".into(), json!(format!("{meta}-s{}", cx.fresh)));
            }
        }
        "FlowStageBinding" => {
            object.remove("flow");
            if cx.coin(0.7) {
                object.remove("stage");
            }
        }
        "PolicyBinding" => {
            object.remove("target");
            if cx.coin(0.7) {
                for key in ["policy", "group", "user"] {
                    object.remove(key);
                }
            }
        }
        "PromptStage" if cx.coin(0.5) => {
            // Another prompt as well: a list that grows and shrinks.
            let mut fields = spec["fields"].as_array().cloned().unwrap_or_default();
            if fields.len() > 1 {
                fields.pop();
            } else if let Some(prompt) = cx.pick("Prompt") {
                fields.push(json!({"ref": prompt}));
            }
            object.insert("fields".into(), json!(fields));
        }
        _ => {}
    }
    if kind == "Prompt" {
        object.remove("fieldKey");
    }
    // One to three of the fields, not all: a person changes a few things at a time.
    let mut keys: Vec<String> = object.keys().cloned().collect();
    cx.rng.shuffle(&mut keys);
    let keep = cx.rng.usize(1..=3.min(keys.len().max(1)));
    let paired = [
        ("mode", ["targetStatic", "targetFlow"]),
        ("policy", ["group", "user"]),
    ];
    let mut patch = serde_json::Map::new();
    for key in keys.iter().take(keep) {
        patch.insert(key.clone(), object[key].clone());
        // Fields that only make sense together travel together.
        for (lead, with) in &paired {
            if key == lead || with.contains(&key.as_str()) {
                for k in std::iter::once(*lead).chain(*with) {
                    if let Some(v) = object.get(k) {
                        patch.insert(k.into(), v.clone());
                    }
                }
            }
        }
    }
    // A merge patch merges objects: a reference that changes form ({ref} to {slug}) must
    // clear the old form's key, or the result names two.
    for (key, value) in patch.iter_mut() {
        if let (Some(new), Some(old)) = (value.as_object_mut(), spec[key.as_str()].as_object()) {
            for old_key in old.keys() {
                new.entry(old_key.clone()).or_insert(Value::Null);
            }
        }
    }
    Value::Object(patch)
}
