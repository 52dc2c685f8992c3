//! References between the new kinds: an MFA validation stage naming its setup stages, a
//! prompt stage listing its prompts. Resolved (status.resolvedReferences), waiting for
//! their targets in any order of creation, compared as sets, and protecting their targets
//! from deletion while they are listed.

use crate::common::{Env, is_ready, reason};
use crate::dynamic::{self as d};
use authentik_operator::kinds::{
    AuthenticatorTOTPStage, AuthenticatorValidateStage, Prompt, PromptStage,
};
use authentik_sim::Profile;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

fn set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn an_mfa_stage_names_its_setup_stages_and_protects_them() {
    let env = Env::started(Profile::Current).await;
    // The referrer first: it waits, creating nothing.
    d::create(
        &env,
        "AuthenticatorValidateStage",
        "mfa",
        &json!({
            "deviceClasses": ["totp", "webauthn", "static"],
            "notConfiguredAction": "configure",
            "configurationStages": [
                {"ref": {"kind": "AuthenticatorTOTPStage", "name": "totp"}},
                {"ref": {"kind": "AuthenticatorWebAuthnStage", "name": "webauthn"}},
                {"ref": {"kind": "AuthenticatorStaticStage", "name": "codes"}},
                {"name": "default-authenticator-totp-setup"}
            ]
        }),
    )
    .await;
    let obj = d::wait_synced(
        &env,
        "AuthenticatorValidateStage",
        "mfa",
        "ReferenceNotReady",
    )
    .await;
    let msg = d::message(&obj, "Synced");
    assert!(
        msg.contains("spec.configurationStages[0]") && msg.contains("totp"),
        "{msg}"
    );
    assert!(
        env.sim_stages_named("authenticator/validate", "mfa")
            .is_empty()
    );

    d::create(
        &env,
        "AuthenticatorTOTPStage",
        "totp",
        &json!({"digits": "6"}),
    )
    .await;
    d::create(&env, "AuthenticatorWebAuthnStage", "webauthn", &json!({})).await;
    d::create(
        &env,
        "AuthenticatorStaticStage",
        "codes",
        &json!({"tokenCount": 8}),
    )
    .await;
    let mut setup = Vec::new();
    for (kind, name) in [
        ("AuthenticatorTOTPStage", "totp"),
        ("AuthenticatorWebAuthnStage", "webauthn"),
        ("AuthenticatorStaticStage", "codes"),
    ] {
        setup.push(d::pk(&d::wait_ready(&env, kind, name).await).unwrap());
    }
    let seeded = env.sim_stages_named("authenticator/totp", "default-authenticator-totp-setup");
    setup.push(seeded[0]["pk"].as_str().unwrap().to_string());

    let mfa = env
        .wait_for::<AuthenticatorValidateStage>("mfa", "Ready", is_ready)
        .await;
    let status = mfa.status.unwrap();
    for (i, pk) in setup.iter().enumerate() {
        assert_eq!(
            status
                .resolved_references
                .get(&format!("configurationStages[{i}]")),
            Some(pk),
            "{:?}",
            status.resolved_references
        );
    }
    let mfa_pk = status.pk.unwrap();
    let remote = env.sim.control().stage(&mfa_pk).unwrap();
    assert_eq!(
        set(&remote["configuration_stages"]),
        setup.iter().cloned().collect()
    );

    // Both lists are sets: the same members in another order are no change to authentik.
    env.sim.control().clear_requests();
    d::patch_spec(
        &env,
        "AuthenticatorValidateStage",
        "mfa",
        &json!({
            "deviceClasses": ["static", "webauthn", "totp"],
            "configurationStages": [
                {"name": "default-authenticator-totp-setup"},
                {"ref": {"kind": "AuthenticatorStaticStage", "name": "codes"}},
                {"ref": {"kind": "AuthenticatorWebAuthnStage", "name": "webauthn"}},
                {"ref": {"kind": "AuthenticatorTOTPStage", "name": "totp"}}
            ]
        }),
    )
    .await;
    env.wait_for::<AuthenticatorValidateStage>("mfa", "Ready at generation 2", |o| {
        is_ready(o) && o.metadata.generation == Some(2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        env.sim_writes().is_empty(),
        "a reorder writes nothing: {:#?}",
        env.sim_writes()
    );

    // The TOTP setup stage may not go while the MFA stage offers it.
    let totp_pk = setup[0].clone();
    env.delete::<AuthenticatorTOTPStage>("totp").await;
    let msg = env
        .wait_synced::<AuthenticatorTOTPStage>("totp", "DeleteBlocked")
        .await;
    assert!(
        msg.contains("AuthenticatorValidateStage/mfa"),
        "names the referrer: {msg}"
    );
    env.wait_event("totp", "DeleteBlocked").await;
    assert!(env.sim.control().stage(&totp_pk).is_some());
    // The MFA stage stops offering it: the delete goes through.
    d::patch_spec(
        &env,
        "AuthenticatorValidateStage",
        "mfa",
        &json!({"configurationStages": [
            {"name": "default-authenticator-totp-setup"},
            {"ref": {"kind": "AuthenticatorStaticStage", "name": "codes"}},
            {"ref": {"kind": "AuthenticatorWebAuthnStage", "name": "webauthn"}}
        ]}),
    )
    .await;
    env.wait_gone::<AuthenticatorTOTPStage>("totp").await;
    assert!(env.sim.control().stage(&totp_pk).is_none());
    let mfa = env
        .wait_for::<AuthenticatorValidateStage>("mfa", "Ready at generation 3", |o| {
            is_ready(o) && o.metadata.generation == Some(3)
        })
        .await;
    let remote = env
        .sim
        .control()
        .stage(mfa.status.unwrap().pk.unwrap())
        .unwrap();
    assert_eq!(set(&remote["configuration_stages"]).len(), 3);
    assert!(!set(&remote["configuration_stages"]).contains(&totp_pk));
}

fn prompt(field_key: &str, kind: &str, order: i64) -> Value {
    json!({"fieldKey": field_key, "label": field_key, "type": kind, "required": true, "order": order})
}

#[tokio::test]
async fn a_prompt_stage_lists_prompt_resources_and_protects_them() {
    let env = Env::started(Profile::Current).await;
    d::create(
        &env,
        "PromptStage",
        "form",
        &json!({"fields": [{"ref": "username"}, {"ref": "email"},
                           {"name": "initial-setup-field-password"}]}),
    )
    .await;
    let obj = d::wait_synced(&env, "PromptStage", "form", "ReferenceNotReady").await;
    assert!(d::message(&obj, "Synced").contains("spec.fields[0]"));
    // The prompts arrive in the other order.
    d::create(&env, "Prompt", "email", &prompt("email", "email", 20)).await;
    d::create(
        &env,
        "Prompt",
        "username",
        &prompt("username", "username", 10),
    )
    .await;
    let mut fields = Vec::new();
    for name in ["username", "email"] {
        let p = env.wait_for::<Prompt>(name, "Ready", is_ready).await;
        fields.push(p.status.unwrap().pk.unwrap());
    }
    let seeded = env
        .sim
        .control()
        .peek("stages/prompt/prompts/?name=initial-setup-field-password")
        .unwrap();
    fields.push(seeded["results"][0]["pk"].as_str().unwrap().to_string());
    let form = env.wait_for::<PromptStage>("form", "Ready", is_ready).await;
    let status = form.status.unwrap();
    for (i, pk) in fields.iter().enumerate() {
        assert_eq!(
            status.resolved_references.get(&format!("fields[{i}]")),
            Some(pk)
        );
    }
    let form_pk = status.pk.unwrap();
    let remote = env.sim.control().stage(&form_pk).unwrap();
    assert_eq!(set(&remote["fields"]), fields.iter().cloned().collect());

    // The order of `fields` means nothing (each prompt's `order` does): no write.
    env.sim.control().clear_requests();
    d::patch_spec(
        &env,
        "PromptStage",
        "form",
        &json!({"fields": [{"name": "initial-setup-field-password"}, {"ref": "email"}, {"ref": "username"}]}),
    )
    .await;
    env.wait_for::<PromptStage>("form", "Ready at generation 2", |o| {
        is_ready(o) && o.metadata.generation == Some(2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(env.sim_writes().is_empty(), "{:#?}", env.sim_writes());

    // A listed prompt waits to be deleted, naming the prompt stage.
    let email_pk = fields[1].clone();
    env.delete::<Prompt>("email").await;
    let msg = env.wait_synced::<Prompt>("email", "DeleteBlocked").await;
    assert!(msg.contains("PromptStage/form"), "{msg}");
    assert!(env.sim.control().stage(&email_pk).is_some());
    let p = env.api::<Prompt>().get("email").await.unwrap();
    assert_eq!(reason(&p, "Synced").as_deref(), Some("DeleteBlocked"));
    // Once the stage no longer lists it, it goes.
    d::patch_spec(
        &env,
        "PromptStage",
        "form",
        &json!({"fields": [{"ref": "username"}, {"name": "initial-setup-field-password"}]}),
    )
    .await;
    env.wait_gone::<Prompt>("email").await;
    assert!(env.sim.control().stage(&email_pk).is_none());
    let form = env
        .wait_for::<PromptStage>("form", "Ready at generation 3", |o| {
            is_ready(o) && o.metadata.generation == Some(3)
        })
        .await;
    let remote = env
        .sim
        .control()
        .stage(form.status.unwrap().pk.unwrap())
        .unwrap();
    assert_eq!(
        set(&remote["fields"]),
        [fields[0].clone(), fields[2].clone()].into_iter().collect()
    );
}
