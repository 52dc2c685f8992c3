//! What a new resource costs authentik: one create, no lookup by name while the sweep's
//! recent list answers "no such name"; what it costs the API server: two writes (the
//! finalizer with the create marker, then the status); and what happens when someone takes
//! the name after that list was read (authentik refuses our create, and the adoption policy
//! decides).

mod common;

use authentik_operator::kinds::PasswordStage;
use authentik_sim::{Profile, RecordedRequest};
use common::{Env, authentik, body, is_ready, reason};
use futures::{StreamExt, TryStreamExt};
use kube::api::{ListParams, WatchEvent, WatchParams};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn password(name: &str, policy: &str) -> serde_json::Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": name},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"], "adoptionPolicy": policy,
                 "failedAttemptsBeforeCancel": 3}
    })
}

/// An operator whose sweep lists once at start and not again during the test, so the
/// snapshot is the one taken before anything below happened.
async fn env_with_one_list() -> Env {
    let mut env = Env::new(Profile::Current).await;
    env.extra_args = vec!["--resync-interval".into(), "300s".into()];
    env.start_operator().await;
    env
}

fn on_password(r: &RecordedRequest, method: &str) -> bool {
    r.method == method && r.route == "stages/password/"
}

/// A page of the sweep's list: a GET of the collection with no filter by name.
fn is_sweep_list(r: &RecordedRequest) -> bool {
    on_password(r, "GET") && r.query.as_deref().is_none_or(|q| !q.contains("name="))
}

/// Lookups of `name` by the operator.
fn lookups(env: &Env, name: &str) -> usize {
    let by_name = format!("name={name}");
    env.sim
        .control()
        .requests()
        .iter()
        .filter(|r| {
            on_password(r, "GET") && r.query.as_deref().is_some_and(|q| q.contains(&by_name))
        })
        .count()
}

/// Counts the API server's changes to the PasswordStages of `env` (every MODIFIED its watch
/// reports) from now on.
async fn count_changes(env: &Env) -> Arc<AtomicUsize> {
    let api = env.api::<PasswordStage>();
    let listed = api
        .list_metadata(&ListParams::default())
        .await
        .expect("list");
    let from = listed.metadata.resource_version.unwrap_or_default();
    let stream = api
        .watch(&WatchParams::default(), &from)
        .await
        .expect("watch");
    let changes = Arc::new(AtomicUsize::new(0));
    let counted = changes.clone();
    tokio::spawn(async move {
        let mut stream = stream.boxed();
        while let Ok(Some(event)) = stream.try_next().await {
            if matches!(event, WatchEvent::Modified(_)) {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    changes
}

#[tokio::test]
async fn a_new_resource_costs_one_create_and_no_lookup() {
    let env = env_with_one_list().await;
    let changes = count_changes(&env).await;
    let names: Vec<String> = (0..12).map(|i| format!("new-{i}")).collect();
    for name in &names {
        env.create::<PasswordStage>(password(name, "Never")).await;
    }
    for name in &names {
        env.wait_for::<PasswordStage>(name, "Ready", is_ready).await;
    }
    let requests = env.sim.control().requests();
    let creates = requests.iter().filter(|r| on_password(r, "POST")).count();
    assert_eq!(creates, names.len(), "one create per resource");
    for name in &names {
        let seq: Vec<String> = requests
            .iter()
            .filter(|r| r.route.starts_with("stages/password/"))
            .map(|r| format!("{} {:?} {}", r.method, r.query, r.status))
            .collect();
        assert_eq!(
            lookups(&env, name),
            0,
            "{name} was looked up by name: {seq:#?}"
        );
    }
    let other: Vec<String> = requests
        .iter()
        .filter(|r| r.route.starts_with("stages/password/") && !on_password(r, "POST"))
        .filter(|r| !is_sweep_list(r))
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.query))
        .collect();
    // The finalizer with the create marker, then the status with the pk: nothing more, and
    // nothing after (given a moment for a late write to show).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(changes.load(Ordering::SeqCst), 2 * names.len());
    assert!(
        other.is_empty(),
        "nothing but creates and the sweep's list: {other:?}"
    );
}

#[tokio::test]
async fn a_name_taken_after_the_list_is_judged_by_the_adoption_policy() {
    let env = env_with_one_list().await;
    // The operator has listed (its first sweep runs before any reconcile).
    env.create::<PasswordStage>(password("probe", "Never"))
        .await;
    env.wait_for::<PasswordStage>("probe", "Ready", is_ready)
        .await;
    // Someone creates two stages in authentik: the operator's list does not know them.
    let mut taken = Vec::new();
    for name in ["late-never", "late-always"] {
        let created = authentik(&env)
            .create(
                "stages/password/",
                &body(
                    json!({"name": name, "backends": ["authentik.core.auth.InbuiltBackend"],
                             "failed_attempts_before_cancel": 7}),
                ),
            )
            .await
            .expect("someone else's stage");
        taken.push(created["pk"].as_str().expect("pk").to_string());
    }

    env.create::<PasswordStage>(password("late-never", "Never"))
        .await;
    let refused = env
        .wait_for::<PasswordStage>("late-never", "AlreadyExists", |o| {
            reason(o, "Synced").as_deref() == Some("AlreadyExists")
        })
        .await;
    let status = refused.status.expect("status");
    // No create marker left behind: the stage is not ours, and never will be taken as ours.
    assert_eq!((status.name, status.pk), (None, None));
    // Created without asking (the list did not know the name), refused, then asked.
    let requests = env.sim.control().requests();
    let named = |r: &&RecordedRequest| {
        let in_body = r.body.as_ref().and_then(|b| b.get("name"));
        in_body.and_then(|n| n.as_str()) == Some("late-never")
            || r.query
                .as_deref()
                .is_some_and(|q| q.contains("name=late-never"))
    };
    let asked: Vec<String> = requests
        .iter()
        .filter(named)
        .skip(1) // someone else's create, above
        .map(|r| format!("{} {}", r.method, r.status))
        .take(2)
        .collect();
    assert_eq!(asked, ["POST 400", "GET 200"]);
    let stage = env.sim.control().stage(&taken[0]).expect("still there");
    assert_eq!(stage["failed_attempts_before_cancel"], 7, "untouched");

    env.create::<PasswordStage>(password("late-always", "Always"))
        .await;
    let adopted = env
        .wait_for::<PasswordStage>("late-always", "Ready", is_ready)
        .await;
    assert_eq!(
        adopted.status.unwrap().pk.as_deref(),
        Some(taken[1].as_str())
    );
    env.wait_event("late-always", "Adopted").await;
    let stage = env.sim.control().stage(&taken[1]).expect("adopted");
    assert_eq!(
        stage["failed_attempts_before_cancel"], 3,
        "corrected to the spec"
    );
    assert_eq!(env.sim_stages_named("password", "late-always").len(), 1);

    // The refused resource never owned its stage: deleting it leaves the stage.
    env.delete::<PasswordStage>("late-never").await;
    env.wait_gone::<PasswordStage>("late-never").await;
    assert!(env.sim.control().stage(&taken[0]).is_some());
}
