//! References by resource, by authentik name, by slug and by pk; what they resolve to;
//! deletes that wait for referrers.

mod common;

use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::{Flow, IdentificationStage, PasswordStage};
use authentik_sim::Profile;
use common::{Env, authentik, is_ready};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use std::time::{Duration, Instant};

fn password(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": name},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
    })
}

fn identification(name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
        "metadata": {"name": name}, "spec": spec
    })
}

#[tokio::test]
async fn identification_created_before_its_password_stage_converges() {
    let mut env = Env::new(Profile::Current).await;
    // A long backoff: only the watch on PasswordStage can bring the referrer in quickly.
    env.extra_args = vec!["--backoff-max".into(), "5m".into()];
    env.start_operator().await;
    env.create::<IdentificationStage>(identification(
        "id",
        json!({"userFields": ["username"], "passwordStage": {"ref": "pw"}}),
    ))
    .await;
    let msg = env
        .wait_synced::<IdentificationStage>("id", "ReferenceNotReady")
        .await;
    assert!(
        msg.contains("spec.passwordStage") && msg.contains("pw"),
        "{msg}"
    );
    assert!(
        env.sim_stages_named("identification", "id").is_empty(),
        "nothing created yet"
    );
    tokio::time::sleep(Duration::from_secs(6)).await; // let the backoff grow past the wait below
    env.create::<PasswordStage>(password("pw")).await;
    let pw = env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    let ready_at = Instant::now();
    let id = env
        .wait_for::<IdentificationStage>("id", "Ready", is_ready)
        .await;
    assert!(
        ready_at.elapsed() < Duration::from_secs(5),
        "woken by the watch, not by a timer"
    );
    let pw_pk = pw.status.unwrap().pk.unwrap();
    let status = id.status.unwrap();
    assert_eq!(
        status.resolved_references.get("passwordStage"),
        Some(&pw_pk)
    );
    let remote = env.sim.control().stage(status.pk.unwrap()).unwrap();
    assert_eq!(remote["password_stage"], json!(pw_pk));
}

#[tokio::test]
async fn a_recreated_password_stage_propagates_its_new_pk() {
    let env = Env::started(Profile::Current).await;
    env.create::<PasswordStage>(password("pw")).await;
    env.create::<IdentificationStage>(identification(
        "id",
        json!({"userFields": ["email"], "passwordStage": {"ref": "pw"}}),
    ))
    .await;
    let pw = env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    let id = env
        .wait_for::<IdentificationStage>("id", "Ready", is_ready)
        .await;
    let old = pw.status.unwrap().pk.unwrap();
    let id_pk = id.status.unwrap().pk.unwrap();
    // authentik clears password_stage on the identification stage when this is deleted.
    authentik(&env)
        .delete("stages/password/", &old)
        .await
        .expect("delete");
    let pw = env
        .wait_for::<PasswordStage>("pw", "recreated", |o| {
            is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(old.as_str())
        })
        .await;
    let new = pw.status.unwrap().pk.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let remote = env.sim.control().stage(&id_pk).unwrap();
        if remote["password_stage"] == json!(new) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "identification still points at {}",
            remote["password_stage"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn references_by_name_and_slug() {
    let env = Env::started(Profile::Current).await;
    let flow = env
        .sim
        .control()
        .create_flow("Recovery", "recover-me", "recovery");
    let source = env.sim.control().create_source("GitHub", "github");
    env.create::<IdentificationStage>(identification(
        "by-name",
        json!({"userFields": ["email"],
               "passwordStage": {"name": "default-authentication-password"},
               "recoveryFlow": {"slug": "recover-me"},
               "sources": [{"slug": "github"}]}),
    ))
    .await;
    let obj = env
        .wait_for::<IdentificationStage>("by-name", "Ready", is_ready)
        .await;
    let status = obj.status.unwrap();
    let seeded = env.sim_stages_named("password", "default-authentication-password");
    let seeded_pk = seeded[0]["pk"].as_str().unwrap().to_string();
    assert_eq!(
        status.resolved_references.get("passwordStage"),
        Some(&seeded_pk)
    );
    assert_eq!(
        status.resolved_references.get("recoveryFlow"),
        Some(&flow.to_string())
    );
    assert_eq!(
        status.resolved_references.get("sources[0]"),
        Some(&source.to_string())
    );
    let remote = env.sim.control().stage(status.pk.unwrap()).unwrap();
    assert_eq!(remote["recovery_flow"], json!(flow.to_string()));
    assert_eq!(remote["sources"], json!([source.to_string()]));
}

#[tokio::test]
async fn wrong_kind_and_missing_references() {
    let env = Env::started(Profile::Current).await;
    env.create::<IdentificationStage>(identification(
        "wrong-kind",
        json!({"userFields": ["email"], "passwordStage": {"name": "default-authentication-login"}}),
    ))
    .await;
    let msg = env
        .wait_synced::<IdentificationStage>("wrong-kind", "InvalidReference")
        .await;
    assert!(
        msg.contains("User Login Stage"),
        "says what it is instead: {msg}"
    );

    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "later-flow"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"slug": "not-yet"}}
    }))
    .await;
    env.wait_synced::<PasswordStage>("later-flow", "ReferenceNotFound")
        .await;
    // Retried with backoff: creating the flow later is enough.
    let flow = env
        .sim
        .control()
        .create_flow("Change password", "not-yet", "stage_configuration");
    let obj = env
        .wait_for::<PasswordStage>("later-flow", "Ready", is_ready)
        .await;
    let remote = env
        .sim
        .control()
        .stage(obj.status.unwrap().pk.unwrap())
        .unwrap();
    assert_eq!(remote["configure_flow"], json!(flow.to_string()));
}

#[tokio::test]
async fn deleting_a_referenced_password_stage_waits_for_its_referrers() {
    let env = Env::started(Profile::Current).await;
    env.create::<PasswordStage>(password("pw")).await;
    env.create::<IdentificationStage>(identification(
        "id",
        json!({"userFields": ["email"], "passwordStage": {"ref": "pw"}}),
    ))
    .await;
    let pw = env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    env.wait_for::<IdentificationStage>("id", "Ready", is_ready)
        .await;
    let pk = pw.status.unwrap().pk.unwrap();
    env.delete::<PasswordStage>("pw").await;
    let msg = env
        .wait_synced::<PasswordStage>("pw", "DeleteBlocked")
        .await;
    assert!(
        msg.contains("IdentificationStage/id"),
        "names the referrer: {msg}"
    );
    env.wait_event("pw", "DeleteBlocked").await;
    assert!(env.sim.control().stage(&pk).is_some(), "still in authentik");
    // The referrer lets go: the delete completes without anyone touching the PasswordStage.
    env.delete::<IdentificationStage>("id").await;
    env.wait_gone::<PasswordStage>("pw").await;
    assert!(env.sim.control().stage(&pk).is_none());
}

fn password_configuring(name: &str, configure_flow: serde_json::Value) -> serde_json::Value {
    let mut obj = password(name);
    obj["spec"]["configureFlow"] = configure_flow;
    obj
}

/// A wait on a flow on its way out is handed down a chain of references, each link saying
/// why (the soak found a stage waiting on a stage waiting on a deleted flow, and its message
/// said only "not Ready"). Pointed elsewhere, the middle link converges and the chain with it.
#[tokio::test]
async fn a_chain_of_waits_names_each_link_and_unwinds_once_fixed() {
    let env = Env::started(Profile::Current).await;
    env.create::<Flow>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
        "metadata": {"name": "going"},
        "spec": {"name": "Going", "title": "Going", "designation": "stage_configuration"}
    }))
    .await;
    env.create::<PasswordStage>(password_configuring("holder", json!({"ref": "going"})))
        .await;
    env.wait_for::<PasswordStage>("holder", "Ready", is_ready)
        .await;
    env.delete::<Flow>("going").await;
    env.wait_synced::<Flow>("going", "DeleteBlocked").await;

    env.create::<PasswordStage>(password_configuring("pw", json!({"ref": "going"})))
        .await;
    env.create::<IdentificationStage>(identification(
        "id",
        json!({"userFields": ["email"], "passwordStage": {"ref": "pw"}}),
    ))
    .await;
    let msg = env
        .wait_synced::<PasswordStage>("pw", "ReferenceNotReady")
        .await;
    assert!(msg.contains("going is being deleted"), "{msg}");
    let msg = env
        .wait_for::<IdentificationStage>("id", "a wait naming its link's reason", |o| {
            o.status()
                .and_then(|s| s.condition("Synced"))
                .is_some_and(|c| c.message.contains("(not Ready: ReferenceNotReady)"))
        })
        .await;
    let synced = msg.status().and_then(|s| s.condition("Synced")).unwrap();
    assert_eq!(synced.reason, "ReferenceNotReady", "{}", synced.message);
    assert!(
        synced.message.contains("PasswordStage"),
        "{}",
        synced.message
    );

    env.api::<PasswordStage>()
        .patch(
            "pw",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"configureFlow": {"ref": null, "slug": "default-password-change"}}})),
        )
        .await
        .expect("point elsewhere");
    env.wait_for::<IdentificationStage>("id", "Ready", is_ready)
        .await;
    // The flow still waits for the stage that holds it, and goes with it.
    env.delete::<PasswordStage>("holder").await;
    env.wait_gone::<Flow>("going").await;
}

#[tokio::test]
async fn a_blocked_delete_can_be_forced() {
    let env = Env::started(Profile::Current).await;
    env.create::<PasswordStage>(password("pw")).await;
    env.create::<IdentificationStage>(identification(
        "id",
        json!({"userFields": ["email"], "passwordStage": {"ref": "pw"}}),
    ))
    .await;
    env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    env.wait_for::<IdentificationStage>("id", "Ready", is_ready)
        .await;
    env.delete::<PasswordStage>("pw").await;
    env.wait_synced::<PasswordStage>("pw", "DeleteBlocked")
        .await;
    env.api::<PasswordStage>()
        .patch(
            "pw",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"authentik-operator.io/force-delete": "true"}}})),
        )
        .await
        .expect("annotate");
    env.wait_gone::<PasswordStage>("pw").await;
}

#[tokio::test]
async fn one_flow_slug_for_many_resources_is_looked_up_once() {
    // A lookup is kept for a resync interval: the tests' 2 s could run out within the burst
    // on a loaded machine, and a second lookup then is what it should be.
    let mut env = Env::new(Profile::Current).await;
    env.extra_args = ["--resync-interval", "60s"].map(String::from).to_vec();
    env.start_operator().await;
    env.sim.control().clear_requests();
    for i in 0..20 {
        env.create::<PasswordStage>(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
            "metadata": {"name": format!("many-{i}")},
            "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "configureFlow": {"slug": "default-password-change"}}
        }))
        .await;
    }
    for i in 0..20 {
        env.wait_for::<PasswordStage>(&format!("many-{i}"), "Ready", is_ready)
            .await;
    }
    let flow_lookups = env
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/flows/instances/"))
        .filter(|r| r.query.as_deref().is_some_and(|q| q.contains("slug=")))
        .count();
    // (The Flow kind's sweep lists flows too; only the lookups by slug count here.)
    // Concurrent first reconciles may race to the lookup; the cache then serves the rest.
    assert!(
        flow_lookups <= 4,
        "{flow_lookups} flow lookups for 20 resources"
    );
}

#[tokio::test]
async fn an_identification_stage_with_sources_only() {
    let env = Env::started(Profile::Current).await;
    let source = env.sim.control().create_source("GitHub", "github");
    env.create::<IdentificationStage>(identification(
        "sources-only",
        json!({"sources": [{"slug": "github"}]}),
    ))
    .await;
    let obj = env
        .wait_for::<IdentificationStage>("sources-only", "Ready", is_ready)
        .await;
    let remote = env
        .sim
        .control()
        .stage(obj.status.unwrap().pk.unwrap())
        .unwrap();
    assert_eq!(remote["sources"], json!([source.to_string()]));
    assert_eq!(remote["user_fields"], json!([]));
}

#[tokio::test]
async fn an_upper_case_pk_converges_without_writing_again_and_again() {
    let env = Env::started(Profile::Current).await;
    let flow = env
        .sim
        .control()
        .create_flow("Change", "change-it", "stage_configuration");
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "upper"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"],
                 "configureFlow": {"pk": flow.to_string().to_uppercase()}}
    }))
    .await;
    env.wait_for::<PasswordStage>("upper", "Ready", is_ready)
        .await;
    env.sim.control().clear_requests();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let writes = env.sim_writes();
    assert!(writes.is_empty(), "no write loop: {writes:?}");
}
