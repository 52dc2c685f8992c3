//! A stage that already exists in authentik: adoption policies, and name clashes between
//! resources (authentik stage names are unique across all kinds).

mod common;

use authentik_operator::kinds::{PasswordStage, UserLoginStage};
use authentik_sim::Profile;
use common::{Env, authentik, body, is_ready, reason};
use serde_json::json;

async fn existing(env: &Env, name: &str, attempts: i64) -> String {
    let created = authentik(env)
        .create(
            "stages/password/",
            &body(
                json!({"name": name, "backends": ["authentik.core.auth.InbuiltBackend"],
                         "failed_attempts_before_cancel": attempts}),
            ),
        )
        .await
        .expect("pre-existing stage");
    created["pk"].as_str().expect("pk").to_string()
}

fn password(name: &str, policy: &str, attempts: i64) -> serde_json::Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": name},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "adoptionPolicy": policy,
                 "failedAttemptsBeforeCancel": attempts}
    })
}

#[tokio::test]
async fn never_refuses_and_touches_nothing() {
    let env = Env::started(Profile::Current).await;
    let pk = existing(&env, "taken", 5).await;
    env.create::<PasswordStage>(password("taken", "Never", 9))
        .await;
    let obj = env
        .wait_for::<PasswordStage>("taken", "AlreadyExists", |o| {
            reason(o, "Synced").as_deref() == Some("AlreadyExists")
        })
        .await;
    assert!(obj.status.as_ref().unwrap().pk.is_none());
    let msg = obj
        .status
        .unwrap()
        .condition("Synced")
        .unwrap()
        .message
        .clone();
    assert!(
        msg.contains("adoptionPolicy"),
        "the message says what to do: {msg}"
    );
    assert_eq!(
        env.sim.control().stage(&pk).unwrap()["failed_attempts_before_cancel"],
        5
    );
    env.wait_event("taken", "AlreadyExists").await;
    // Deleting the refused resource must not delete the stage it never owned.
    env.delete::<PasswordStage>("taken").await;
    env.wait_gone::<PasswordStage>("taken").await;
    assert!(env.sim.control().stage(&pk).is_some());
}

#[tokio::test]
async fn if_match_adopts_only_a_matching_stage() {
    let env = Env::started(Profile::Current).await;
    let same = existing(&env, "same", 4).await;
    let differs = existing(&env, "differs", 5).await;
    env.create::<PasswordStage>(password("same", "IfMatch", 4))
        .await;
    env.create::<PasswordStage>(password("differs", "IfMatch", 9))
        .await;
    let obj = env
        .wait_for::<PasswordStage>("same", "Ready", is_ready)
        .await;
    assert_eq!(obj.status.unwrap().pk.as_deref(), Some(same.as_str()));
    let obj = env
        .wait_for::<PasswordStage>("differs", "AdoptionMismatch", |o| {
            reason(o, "Synced").as_deref() == Some("AdoptionMismatch")
        })
        .await;
    let drift = obj.status.unwrap().drift;
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].field, "failedAttemptsBeforeCancel");
    assert_eq!(
        (drift[0].desired.as_str(), drift[0].actual.as_str()),
        ("9", "5")
    );
    assert_eq!(
        env.sim.control().stage(&differs).unwrap()["failed_attempts_before_cancel"],
        5
    );
}

#[tokio::test]
async fn always_adopts_and_corrects() {
    let env = Env::started(Profile::V2023_10).await;
    let pk = existing(&env, "take-it", 5).await;
    env.create::<PasswordStage>(password("take-it", "Always", 2))
        .await;
    let obj = env
        .wait_for::<PasswordStage>("take-it", "Ready", is_ready)
        .await;
    assert_eq!(obj.status.unwrap().pk.as_deref(), Some(pk.as_str()));
    assert_eq!(
        env.sim.control().stage(&pk).unwrap()["failed_attempts_before_cancel"],
        2
    );
    env.wait_event("take-it", "Adopted").await;
    assert_eq!(env.sim_stages_named("password", "take-it").len(), 1);
}

#[tokio::test]
async fn two_resources_claiming_one_name() {
    let env = Env::started(Profile::Current).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "first"},
        "spec": {"name": "shared-name", "backends": ["authentik.core.auth.InbuiltBackend"]}
    }))
    .await;
    env.wait_for::<PasswordStage>("first", "Ready", is_ready)
        .await;
    // Another kind, same authentik name: the later claim loses and writes nothing.
    env.create::<UserLoginStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
        "metadata": {"name": "second"},
        "spec": {"name": "shared-name", "adoptionPolicy": "Always"}
    }))
    .await;
    let msg = env
        .wait_synced::<UserLoginStage>("second", "NameConflict")
        .await;
    assert!(
        msg.contains("PasswordStage") && msg.contains("first"),
        "{msg}"
    );
    assert!(env.sim_stages_named("user_login", "shared-name").is_empty());
    assert_eq!(env.sim_stages_named("password", "shared-name").len(), 1);
    // The first claim goes (its stage deleted with it): the second takes the name.
    env.delete::<PasswordStage>("first").await;
    env.wait_for::<UserLoginStage>("second", "Ready", is_ready)
        .await;
    assert_eq!(env.sim_stages_named("user_login", "shared-name").len(), 1);
    assert!(env.sim_stages_named("password", "shared-name").is_empty());
}

#[tokio::test]
async fn a_name_taken_by_another_kind_in_authentik() {
    let env = Env::started(Profile::Current).await;
    // The seeded password stage of a fresh install holds this name.
    env.create::<UserLoginStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
        "metadata": {"name": "clash"},
        "spec": {"name": "default-authentication-password"}
    }))
    .await;
    let msg = env
        .wait_synced::<UserLoginStage>("clash", "AlreadyExists")
        .await;
    assert!(
        msg.contains("Password Stage"),
        "names the kind holding the name: {msg}"
    );
}

#[tokio::test]
async fn observed_then_managed_goes_through_adoption_and_never_deletes_what_it_observed() {
    let env = Env::started(Profile::Current).await;
    let pk = existing(&env, "watched", 5).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "watched"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "managementPolicy": "Observe",
                 "failedAttemptsBeforeCancel": 5}
    }))
    .await;
    let obj = env
        .wait_for::<PasswordStage>("watched", "Ready", is_ready)
        .await;
    assert_eq!(
        obj.status.as_ref().unwrap().pk.as_deref(),
        Some(pk.as_str())
    );
    assert!(obj.status.unwrap().observed_only);
    // Switched to Manage with the default adoption policy: refused, nothing written.
    env.api::<PasswordStage>()
        .patch(
            "watched",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                json!({"spec": {"managementPolicy": "Manage", "failedAttemptsBeforeCancel": 9}}),
            ),
        )
        .await
        .unwrap();
    env.wait_synced::<PasswordStage>("watched", "AlreadyExists")
        .await;
    assert_eq!(
        env.sim.control().stage(&pk).unwrap()["failed_attempts_before_cancel"],
        5
    );
    // Deleting it leaves the stage it only ever observed.
    env.delete::<PasswordStage>("watched").await;
    env.wait_gone::<PasswordStage>("watched").await;
    assert!(env.sim.control().stage(&pk).is_some());
}
