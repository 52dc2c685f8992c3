//! Each kind against several authentik versions: created and Ready with the simulator's pk,
//! a spec change sends only what changed, and deletion follows the deletion policy.

mod common;

use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::{IdentificationStage, PasswordStage, UserLoginStage};
use authentik_sim::Profile;
use common::{Env, is_ready};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use std::collections::BTreeSet;

struct Case {
    kind: &'static str,
    sim_kind: &'static str,
    spec: Value,
    change: Value,
    /// Body keys the PATCH for `change` must carry, and nothing else.
    patch_keys: &'static [&'static str],
    /// Field and value authentik must have after the change.
    after: (&'static str, Value),
}

fn password_case() -> Case {
    Case {
        kind: "PasswordStage",
        sim_kind: "password",
        spec: json!({"backends": ["authentik.core.auth.InbuiltBackend"], "failedAttemptsBeforeCancel": 3}),
        change: json!({"spec": {"failedAttemptsBeforeCancel": 7}}),
        patch_keys: &["failed_attempts_before_cancel"],
        after: ("failed_attempts_before_cancel", json!(7)),
    }
}

fn identification_case() -> Case {
    Case {
        kind: "IdentificationStage",
        sim_kind: "identification",
        spec: json!({"userFields": ["email", "username"], "showMatchedUser": true}),
        change: json!({"spec": {"showMatchedUser": false}}),
        // authentik validates identification writes on the body alone: both always go along.
        patch_keys: &["show_matched_user", "user_fields", "sources"],
        after: ("show_matched_user", json!(false)),
    }
}

fn user_login_case() -> Case {
    Case {
        kind: "UserLoginStage",
        sim_kind: "user_login",
        spec: json!({"sessionDuration": "hours=8", "terminateOtherSessions": false}),
        change: json!({"spec": {"sessionDuration": "hours=12;minutes=30"}}),
        patch_keys: &["session_duration"],
        after: ("session_duration", json!("hours=12;minutes=30")),
    }
}

async fn lifecycle<K: Kind>(profile: Profile, case: Case) {
    let env = Env::started(profile).await;
    let name = format!("lc-{}", case.sim_kind.replace('_', "-"));
    let mut spec = case.spec.clone();
    spec["deletionPolicy"] = json!("Delete");
    env.create::<K>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": case.kind,
        "metadata": {"name": name}, "spec": spec
    }))
    .await;
    let ready = env.wait_for::<K>(&name, "Ready", is_ready).await;
    let pk = ready.status().and_then(|s| s.pk.clone()).expect("pk");
    let remote = env
        .sim
        .control()
        .stage(&pk)
        .expect("the stage exists in authentik under status.pk");
    assert_eq!(remote["name"], json!(name));
    assert_eq!(env.sim_stages_named(case.sim_kind, &name).len(), 1);
    env.wait_event(&name, "Created").await;

    // A spec change reaches authentik, and only the changed fields are sent.
    env.sim.control().clear_requests();
    env.api::<K>()
        .patch(&name, &PatchParams::default(), &Patch::Merge(&case.change))
        .await
        .expect("spec change");
    env.wait_for::<K>(&name, "Ready at generation 2", |o| {
        is_ready(o) && o.meta().generation == Some(2)
    })
    .await;
    let remote = env.sim.control().stage(&pk).expect("stage");
    assert_eq!(remote[case.after.0], case.after.1, "{remote}");
    let patches: Vec<_> = env
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1, "one PATCH for one change: {patches:?}");
    let keys: BTreeSet<String> = patches[0]
        .body
        .as_ref()
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let want: BTreeSet<String> = case.patch_keys.iter().map(|s| s.to_string()).collect();
    assert_eq!(keys, want);
    let writes = env
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" || r.method == "PUT")
        .count();
    assert_eq!(writes, 0, "no create or full update for a change");

    // Deleting the resource deletes the stage.
    env.delete::<K>(&name).await;
    env.wait_gone::<K>(&name).await;
    assert!(
        env.sim.control().stage(&pk).is_none(),
        "the stage is deleted in authentik"
    );
}

#[tokio::test]
async fn password_stage_on_2023_10() {
    lifecycle::<PasswordStage>(Profile::V2023_10, password_case()).await;
}

#[tokio::test]
async fn password_stage_on_current() {
    lifecycle::<PasswordStage>(Profile::Current, password_case()).await;
}

#[tokio::test]
async fn identification_stage_on_2024_4() {
    lifecycle::<IdentificationStage>(Profile::V2024_4, identification_case()).await;
}

#[tokio::test]
async fn identification_stage_on_current() {
    lifecycle::<IdentificationStage>(Profile::Current, identification_case()).await;
}

#[tokio::test]
async fn user_login_stage_on_2023_10() {
    lifecycle::<UserLoginStage>(Profile::V2023_10, user_login_case()).await;
}

#[tokio::test]
async fn user_login_stage_on_current() {
    lifecycle::<UserLoginStage>(Profile::Current, user_login_case()).await;
}

#[tokio::test]
async fn orphan_leaves_the_stage() {
    let env = Env::started(Profile::Current).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "keep-me"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "deletionPolicy": "Orphan"}
    }))
    .await;
    let obj = env
        .wait_for::<PasswordStage>("keep-me", "Ready", is_ready)
        .await;
    let pk = obj.status.and_then(|s| s.pk).expect("pk");
    env.delete::<PasswordStage>("keep-me").await;
    env.wait_gone::<PasswordStage>("keep-me").await;
    assert!(
        env.sim.control().stage(&pk).is_some(),
        "Orphan leaves the stage in authentik"
    );
}

#[tokio::test]
async fn unsupported_fields_on_older_authentik_are_reported_not_looped() {
    let env = Env::started(Profile::V2023_10).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "new-field"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "allowShowPassword": true}
    }))
    .await;
    let obj = env
        .wait_for::<PasswordStage>("new-field", "Ready with unsupported fields", |o| {
            is_ready(o)
                && o.status
                    .as_ref()
                    .is_some_and(|s| !s.unsupported_fields.is_empty())
        })
        .await;
    assert_eq!(
        obj.status.unwrap().unsupported_fields,
        vec!["allowShowPassword"]
    );
    env.wait_event("new-field", "UnsupportedFields").await;
    // Several sweeps later, nothing has tried to write the field again.
    env.sim.control().clear_requests();
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let writes = env.sim_writes();
    assert!(writes.is_empty(), "no write loop: {writes:?}");
    let warnings = env
        .event_reasons("new-field")
        .await
        .into_iter()
        .filter(|r| r == "UnsupportedFields")
        .count();
    assert_eq!(warnings, 1, "one warning event, not one per sweep");
}

#[tokio::test]
async fn a_list_of_namespaces_is_watched_and_nothing_else() {
    let mut env = Env::new(Profile::Current).await;
    let cp = testenv::shared();
    let second = cp.create_namespace("e2e-second").expect("namespace");
    let outside = cp.create_namespace("e2e-outside").expect("namespace");
    env.extra_args = vec!["--namespace".into(), format!("{},{second}", env.ns)];
    env.start_operator().await;
    let stage = |name: &str, ak: &str| {
        json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
            "metadata": {"name": name}, "spec": {"name": ak}
        })
    };
    let in_ns = |ns: &str| kube::Api::<UserLoginStage>::namespaced(env.client.clone(), ns);
    let create = |ns: String, obj: Value| {
        let api = in_ns(&ns);
        async move {
            let obj: UserLoginStage = serde_json::from_value(obj).unwrap();
            api.create(&Default::default(), &obj).await.expect("create");
        }
    };
    env.create::<UserLoginStage>(stage("first", "listed-first"))
        .await;
    create(second.clone(), stage("second", "listed-second")).await;
    create(outside.clone(), stage("ignored", "not-watched")).await;
    env.wait_for::<UserLoginStage>("first", "Ready", is_ready)
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    loop {
        let obj = in_ns(&second).get("second").await.unwrap();
        if is_ready(&obj) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "second namespace never Ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // One authentik name claimed from both watched namespaces: the later claim loses.
    create(second.clone(), stage("clash", "listed-first")).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    loop {
        let obj = in_ns(&second).get("clash").await.unwrap();
        if common::reason(&obj, "Synced").as_deref() == Some("NameConflict") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no NameConflict across namespaces"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let ignored = in_ns(&outside).get("ignored").await.unwrap();
    assert!(
        ignored.status.is_none(),
        "a namespace outside the list is left alone"
    );
    assert!(env.sim_stages_named("user_login", "not-watched").is_empty());
}
