//! Drift made in authentik is found by the periodic sweep and corrected (or, in Observe
//! mode, reported); a stage deleted behind our back is recreated.

mod common;

use authentik_operator::kinds::{Flow, IdentificationStage, PasswordStage, UserLoginStage};
use authentik_sim::Profile;
use common::{Env, authentik, body, is_ready, reason};
use kube::api::{Patch, PatchParams};
use serde_json::json;

#[tokio::test]
async fn drift_is_corrected_within_the_resync_interval() {
    let env = Env::started(Profile::Current).await;
    env.create::<UserLoginStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
        "metadata": {"name": "login"},
        "spec": {"sessionDuration": "hours=8", "terminateOtherSessions": true}
    }))
    .await;
    let obj = env
        .wait_for::<UserLoginStage>("login", "Ready", is_ready)
        .await;
    let pk = obj.status.and_then(|s| s.pk).expect("pk");
    // Someone edits the stage in authentik's UI: a field we manage and one we don't.
    authentik(&env)
        .patch(
            "stages/user_login/",
            &pk,
            &body(json!({"session_duration": "days=30", "remember_me_offset": "days=1"})),
        )
        .await
        .expect("edit in authentik");
    env.wait_event("login", "DriftCorrected").await;
    let remote = env.sim.control().stage(&pk).expect("stage");
    assert_eq!(
        remote["session_duration"], "hours=8",
        "managed field corrected"
    );
    assert_eq!(
        remote["remember_me_offset"], "days=1",
        "unmanaged field left alone"
    );
    let obj = env
        .wait_for::<UserLoginStage>("login", "Ready", is_ready)
        .await;
    assert!(obj.status.unwrap().drift.is_empty());
}

#[tokio::test]
async fn a_stage_deleted_in_authentik_is_recreated() {
    let env = Env::started(Profile::V2024_4).await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "pw"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
    }))
    .await;
    let obj = env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    let old_pk = obj.status.and_then(|s| s.pk).expect("pk");
    assert!(
        authentik(&env)
            .delete("stages/password/", &old_pk)
            .await
            .expect("delete")
    );
    let obj = env
        .wait_for::<PasswordStage>("pw", "Ready with a new pk", |o| {
            is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(old_pk.as_str())
        })
        .await;
    let new_pk = obj.status.and_then(|s| s.pk).expect("pk");
    assert!(env.sim.control().stage(&new_pk).is_some());
    assert_eq!(env.sim_stages_named("password", "pw").len(), 1);
    env.wait_event("pw", "Recreated").await;
}

#[tokio::test]
async fn observe_mode_reports_drift_and_never_writes() {
    let env = Env::started(Profile::Current).await;
    // The seeded default stage of a fresh install, observed.
    env.create::<IdentificationStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
        "metadata": {"name": "watch"},
        "spec": {"name": "default-authentication-identification", "managementPolicy": "Observe",
                 "userFields": ["email", "username"]}
    }))
    .await;
    let obj = env
        .wait_for::<IdentificationStage>("watch", "Ready", is_ready)
        .await;
    let pk = obj.status.and_then(|s| s.pk).expect("observed pk");
    env.sim.control().clear_requests();
    authentik(&env)
        .patch(
            "stages/identification/",
            &pk,
            &body(json!({"user_fields": ["upn"], "sources": []})),
        )
        .await
        .expect("edit");
    let obj = env
        .wait_for::<IdentificationStage>("watch", "Drifted", |o| {
            reason(o, "Ready").as_deref() == Some("Drifted")
        })
        .await;
    let drift = obj.status.unwrap().drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0].field, "userFields");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let writes = env.sim_writes();
    // The only write is the test's own edit above.
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(
        env.sim.control().stage(&pk).unwrap()["user_fields"],
        json!(["upn"])
    );
    // Deleting an observed resource leaves the stage alone.
    env.delete::<IdentificationStage>("watch").await;
    env.wait_gone::<IdentificationStage>("watch").await;
    assert!(env.sim.control().stage(&pk).is_some());
}

#[tokio::test]
async fn steady_state_costs_one_list_per_kind_per_interval_and_no_writes() {
    let env = Env::started(Profile::Current).await;
    for i in 0..5 {
        env.create::<PasswordStage>(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
            "metadata": {"name": format!("steady-{i}")},
            "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
        }))
        .await;
    }
    for i in 0..5 {
        env.wait_for::<PasswordStage>(&format!("steady-{i}"), "Ready", is_ready)
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    env.sim.control().clear_requests();
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let requests = env.sim.control().requests();
    // Every registered kind's list (each sweep), and the event follower's one request per
    // poll.
    let mut lists: Vec<String> = authentik_operator::cli::registry::kinds()
        .iter()
        .map(|k| format!("/api/v3/{}", k.endpoint))
        .collect();
    lists.push("/api/v3/events/events/".into());
    let non_list: Vec<_> = requests
        .iter()
        .filter(|r| r.method != "GET" || !lists.contains(&r.path))
        .collect();
    assert!(
        non_list.is_empty(),
        "steady state makes list calls only: {non_list:?}"
    );
    let polls = requests
        .iter()
        .filter(|r| r.path.ends_with("/events/events/"))
        .count();
    // 7 s at the default 2 s event interval: one request per poll, whatever the resources.
    assert!((3..=4).contains(&polls), "{polls} event polls");
    let password_lists = requests
        .iter()
        .filter(|r| r.path.ends_with("/stages/password/"))
        .count();
    // 7 s at a 2 s interval: 3 or 4 sweeps, one page each (6 stages with the seeded one).
    assert!(
        (3..=4).contains(&password_lists),
        "{password_lists} list calls"
    );
}

/// The slug a flow holds in authentik now, found by its pk.
fn slug_of(env: &Env, pk: &str) -> Option<String> {
    env.sim
        .control()
        .flows()
        .into_iter()
        .find(|f| f["pk"] == pk)
        .and_then(|f| f["slug"].as_str().map(str::to_string))
}

/// Renames the flow in authentik leaving no event, so the operator's last read of it stays
/// what it writes by until the sweep, ten minutes off.
fn rename_unseen(env: &Env, pk: &str, to: &str) {
    let c = env.sim.control();
    let from = slug_of(env, pk).expect("the flow");
    c.set_event_recording(false);
    let r = c.api(
        "PATCH",
        &format!("flows/instances/{from}/"),
        Some(json!({"slug": to})),
    );
    c.set_event_recording(true);
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// A flow's URL names it by slug, and someone renamed it in the UI since the operator last
/// read it: the next write goes to the old slug and is answered 404. The soak found a delete
/// taking that 404 for "already gone", leaving the flow behind. A write goes again at the
/// slug the flow holds now; a PATCH must not create a second flow either.
#[tokio::test]
async fn a_flow_renamed_unseen_in_authentik_is_written_and_deleted_where_it_is() {
    let mut env = Env::new(Profile::Current).await;
    env.extra_args = ["--resync-interval", "10m"].map(String::from).to_vec();
    env.start_operator().await;
    env.create::<Flow>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
        "metadata": {"name": "renamed"},
        "spec": {"name": "Renamed", "title": "Before", "designation": "authentication"}
    }))
    .await;
    let flow = env.wait_for::<Flow>("renamed", "Ready", is_ready).await;
    let pk = flow.status.and_then(|s| s.pk).expect("pk");

    rename_unseen(&env, &pk, "renamed-in-ui");
    env.api::<Flow>()
        .patch(
            "renamed",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"title": "After"}})),
        )
        .await
        .expect("change the title");
    env.wait_for::<Flow>("renamed", "Ready for generation 2", |o| {
        is_ready(o) && o.status.as_ref().and_then(|s| s.observed_generation) == Some(2)
    })
    .await;
    let named: Vec<_> = env
        .sim
        .control()
        .flows()
        .into_iter()
        .filter(|f| f["name"] == "Renamed")
        .collect();
    assert_eq!(named.len(), 1, "one flow, not a second one: {named:?}");
    assert_eq!(named[0]["pk"], pk.as_str());
    assert_eq!(named[0]["title"], "After");

    rename_unseen(&env, &pk, "renamed-again");
    env.delete::<Flow>("renamed").await;
    env.wait_gone::<Flow>("renamed").await;
    assert_eq!(
        slug_of(&env, &pk),
        None,
        "the flow is deleted, not left behind"
    );
}
