//! A reconcile that runs on a version of the resource older than the operator's own last
//! write (the informer cache lagging behind, as under load) must neither refuse the stage the
//! operator itself created nor write a status that forgets it. The watch is made to lag on
//! purpose (tests/common/lagging_watch.rs), so the bad order happens on every run.

mod common;

use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::{IdentificationStage, PasswordStage};
use authentik_sim::Profile;
use common::{Env, is_ready, lagging_watch};
use futures::StreamExt;
use kube::ResourceExt;
use kube::runtime::watcher;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How late each watch event reaches the operator.
const LAG: Duration = Duration::from_millis(700);

#[tokio::test]
async fn a_reconcile_on_a_stale_version_keeps_its_own_stage() {
    let mut env = Env::new(Profile::Current).await;
    let (lagging, reads) =
        lagging_watch::client(common::kube_config().await, "passwordstages", LAG);
    env.start_operator_as(lagging).await;

    // Every version the API server holds, seen through a watch that does not lag.
    let history: Arc<Mutex<Vec<PasswordStage>>> = Arc::default();
    let recorder = tokio::spawn({
        let history = history.clone();
        let cfg = watcher::Config::default().fields("metadata.name=lagged");
        let stream = watcher::watcher(env.api::<PasswordStage>(), cfg);
        async move {
            stream
                .for_each(|event| {
                    if let Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) = event {
                        history.lock().unwrap().push(obj);
                    }
                    async {}
                })
                .await;
        }
    });

    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "lagged"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
    }))
    .await;
    env.wait_for::<PasswordStage>("lagged", "Ready", is_ready)
        .await;
    // The operator's own writes reach it one by one, LAG apart: wait until every version has
    // been reconciled (no new version for a while).
    let mut seen = 0;
    loop {
        tokio::time::sleep(LAG * 4).await;
        let now = history.lock().unwrap().len();
        if now == seen {
            break;
        }
        seen = now;
    }
    recorder.abort();
    let history = history.lock().unwrap().clone();

    // The bad order did happen: a reconcile ran on a version without the pk the operator had
    // already recorded, found its view behind the API server's, and read the resource
    // afresh (the first reconcile never reads: it works from the watch's copy).
    let reads = reads.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        reads >= 1,
        "no reconcile ran on a stale version ({reads} fresh reads); the test proves nothing"
    );
    // And it cost authentik nothing: no lookup by name, the stage's pk came from the
    // resource read afresh.
    let lookups = env
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| {
            r.query
                .as_deref()
                .is_some_and(|q| q.contains("name=lagged"))
        })
        .count();
    assert_eq!(lookups, 0);

    let creates: Vec<_> = env
        .sim_writes()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(creates.len(), 1, "one create: {creates:?}");
    let stages = env.sim_stages_named("password", "lagged");
    assert_eq!(stages.len(), 1);
    let pk = stages[0]["pk"].as_str().unwrap().to_string();

    // Once recorded, the create marker (the name) and then the pk are never dropped.
    let describe = |o: &PasswordStage| {
        let s = o.status();
        format!(
            "rv {} name {:?} pk {:?} synced {:?}",
            o.resource_version().unwrap_or_default(),
            s.and_then(|s| s.name.clone()),
            s.and_then(|s| s.pk.clone()),
            common::reason(o, "Synced")
        )
    };
    let versions: Vec<String> = history.iter().map(describe).collect();
    let mut had_name = false;
    let mut had_pk = false;
    for obj in &history {
        let status = obj.status();
        let name = status.and_then(|s| s.name.as_deref());
        let this_pk = status.and_then(|s| s.pk.as_deref());
        let forgot_marker = had_name && name.is_none();
        let forgot_pk = had_pk && this_pk != Some(pk.as_str());
        assert!(
            !forgot_marker && !forgot_pk,
            "a status write forgot the operator's own stage; versions seen:\n{}",
            versions.join("\n")
        );
        had_name |= name.is_some();
        had_pk |= this_pk.is_some();
    }
    let last = history.last().expect("versions");
    assert!(is_ready(last), "{}", versions.join("\n"));
    assert_eq!(
        last.status().and_then(|s| s.pk.as_deref()),
        Some(pk.as_str())
    );

    let reasons = env.event_reasons("lagged").await;
    assert!(
        !reasons.iter().any(|r| r == "AlreadyExists"),
        "the operator refused its own stage: {reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| *r == "Created").count(),
        1,
        "{reasons:?}"
    );
    env.stop_operator().await;
}

/// The guard under the fix: a status write is conditioned on the version it was computed
/// from, so one computed from an older version is refused rather than written over newer
/// state.
#[tokio::test]
async fn a_status_write_from_an_older_version_is_refused() {
    use authentik_operator::Error;
    use authentik_operator::crd::StageStatus;
    use authentik_operator::reconcile::kube_ops::apply_status;
    let env = Env::new(Profile::Current).await;
    let api = env.api::<PasswordStage>();
    let old = env
        .create::<PasswordStage>(json!({
            "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
            "metadata": {"name": "versions"},
            "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
        }))
        .await;
    let marker = StageStatus {
        name: Some("versions".into()),
        ..Default::default()
    };
    let written = apply_status(&api, &old, old.resource_version().as_deref(), &marker)
        .await
        .expect("a write on the current version");
    assert!(written.is_some() && written != old.resource_version());

    let forgetful = StageStatus::default();
    let refused = apply_status(&api, &old, old.resource_version().as_deref(), &forgetful).await;
    assert!(matches!(refused, Err(Error::StaleView)), "{refused:?}");
    let now = api.get("versions").await.unwrap();
    assert_eq!(
        now.status().and_then(|s| s.name.as_deref()),
        Some("versions")
    );
}

fn password_stage(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": name},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
    })
}

/// An IdentificationStage whose `passwordStage` refers to the PasswordStage `password`.
fn referrer_of(name: &str, password: &str) -> serde_json::Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "IdentificationStage",
        "metadata": {"name": name},
        "spec": {"userFields": ["email"], "passwordStage": {"ref": password}}
    })
}

/// A PasswordStage and an IdentificationStage that refers to it.
async fn create_referenced(env: &Env, password: &str, referrer: &str) {
    env.create::<PasswordStage>(password_stage(password)).await;
    env.create::<IdentificationStage>(referrer_of(referrer, password))
        .await;
}

/// A replica that has just become leader fills its caches kind by kind. A delete handled
/// before the cache of a kind that may refer to the resource has its first list must wait
/// for that list, not take the empty cache's word that nothing refers to it: the stage would
/// go from authentik with a referrer still naming it (found by the chaos soak, tests/soak.rs:
/// a replica taking over right after a kube-apiserver restart deleted a referenced
/// PasswordStage). The referrers' list is answered late on purpose, so the bad order happens
/// on every run.
#[tokio::test]
async fn a_delete_waits_for_the_caches_that_show_its_referrers() {
    let mut env = Env::started(Profile::Current).await;
    create_referenced(&env, "referenced", "referrer").await;
    env.wait_for::<IdentificationStage>("referrer", "Ready", is_ready)
        .await;
    env.stop_operator().await;

    // Deleted while no operator runs; the next one finds it with its finalizer.
    env.delete::<PasswordStage>("referenced").await;
    let slow = lagging_watch::slow_lists(
        common::kube_config().await,
        "identificationstages",
        Duration::from_secs(4),
    );
    env.sim.control().clear_requests();
    env.start_operator_as(slow).await;

    let message = env
        .wait_synced::<PasswordStage>("referenced", "DeleteBlocked")
        .await;
    assert!(
        message.contains("IdentificationStage/referrer"),
        "{message}"
    );
    assert_eq!(env.sim_stages_named("password", "referenced").len(), 1);
    let deletes: Vec<_> = env
        .sim_writes()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert!(deletes.is_empty(), "{deletes:?}");
    env.stop_operator().await;
}

/// A rename while the create is on its way: the status write after the create is refused
/// (the spec changed meanwhile), and the reconcile of the new spec must rename the object
/// it created, not create one under the new key and leave the first behind with no resource
/// (found by the chaos soak, tests/soak.rs: a Flow whose slug changed a moment after it was
/// created existed twice). authentik answers slowly, so the change lands while the create is
/// in flight on every run.
#[tokio::test]
async fn a_key_changed_while_the_create_is_in_flight_renames_the_created_object() {
    use authentik_operator::kinds::Flow;
    use authentik_operator::reconcile::kube_ops::CREATED_NAME_ANNOTATION;
    use kube::api::{Patch, PatchParams};
    let env = Env::started(Profile::Current).await;
    let before = env.sim.control().flows().len();
    env.sim.control().set_latency(Duration::from_secs(2));
    env.create::<Flow>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
        "metadata": {"name": "renamed"},
        "spec": {"name": "Renamed", "title": "Renamed", "designation": "authentication"}
    }))
    .await;
    // The create marker is written right before the create is sent.
    env.wait_for::<Flow>("renamed", "marked for its create", |f| {
        f.annotations().contains_key(CREATED_NAME_ANNOTATION)
    })
    .await;
    let change = json!({"spec": {"slug": "renamed-again"}});
    env.api::<Flow>()
        .patch("renamed", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .expect("the slug changed");
    env.sim.control().set_latency(Duration::ZERO);
    let flow = env
        .wait_for::<Flow>("renamed", "Ready for the new slug", |f| {
            is_ready(f) && f.status().and_then(|s| s.observed_generation) == f.metadata.generation
        })
        .await;

    let flows = env.sim.control().flows();
    let ours: Vec<_> = flows
        .iter()
        .filter(|f| f["slug"].as_str().is_some_and(|s| s.starts_with("renamed")))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:#?}");
    assert_eq!(flows.len(), before + 1);
    assert_eq!(ours[0]["slug"], "renamed-again");
    assert_eq!(
        ours[0]["pk"].as_str(),
        flow.status().and_then(|s| s.pk.as_deref())
    );
    let creates = env
        .sim_writes()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(creates, 1);
}

/// A delete is done once: the reconciles that come after it (the claimants of the name it
/// freed are queued a moment later) run on the cache's copy, which still shows the
/// finalizer while the watch lags, and must not DELETE the object again (found by the chaos
/// soak, tests/soak.rs: a second DELETE, answered 404, in the quiet period). The watch lags
/// longer than that moment on every run.
#[tokio::test]
async fn a_delete_is_sent_once_though_the_cache_still_shows_the_finalizer() {
    let mut env = Env::new(Profile::Current).await;
    let (lagging, _) = lagging_watch::client(
        common::kube_config().await,
        "passwordstages",
        Duration::from_secs(3),
    );
    env.start_operator_as(lagging).await;
    env.create::<PasswordStage>(password_stage("once")).await;
    env.wait_for::<PasswordStage>("once", "Ready", is_ready)
        .await;
    let pk = env.sim_stages_named("password", "once")[0]["pk"]
        .as_str()
        .expect("a pk")
        .to_string();
    env.sim.control().clear_requests();
    env.delete::<PasswordStage>("once").await;
    env.wait_gone::<PasswordStage>("once").await;
    // Until the lagging watch has brought the deletion and a while after.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let deletes: Vec<_> = env
        .sim_writes()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(
        deletes[0].0.contains(&pk) && deletes[0].1 == 204,
        "{deletes:?}"
    );
    env.stop_operator().await;
}

/// A referenced stage deleted in authentik is created again with a new pk, and its referrer
/// must end on that pk. Found by the chaos soak (tests/soak.rs): the referrer was woken by a
/// watch of its own, ahead of the cache it reads the pk from, wrote the old pk, was refused
/// ("Invalid pk") and not woken again; and what the operator knew of the referrer's object
/// still showed the reference authentik had silently cleared. Here only the cache lags (a
/// wake from anywhere else comes first) and the sweep is ten minutes off.
#[tokio::test]
async fn a_referrer_woken_ahead_of_the_cache_ends_on_the_new_pk() {
    let mut env = Env::new(Profile::Current).await;
    env.extra_args = ["--resync-interval", "10m", "--event-interval", "1s"]
        .map(String::from)
        .to_vec();
    let lagging = lagging_watch::cache_only(
        common::kube_config().await,
        "passwordstages",
        Duration::from_secs(3),
    );
    env.start_operator_as(lagging).await;
    create_referenced(&env, "pw", "id").await;
    let old = env.wait_for::<PasswordStage>("pw", "Ready", is_ready).await;
    let old = old.status.and_then(|s| s.pk).expect("a pk");
    let id = env
        .wait_for::<IdentificationStage>("id", "Ready", is_ready)
        .await;
    let id_pk = id.status.and_then(|s| s.pk).expect("a pk");

    // Someone deletes the password stage in the UI: authentik nulls the reference to it.
    let c = env.sim.control();
    let r = c.api_as("alice", "DELETE", &format!("stages/password/{old}/"), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    let new = env
        .wait_for::<PasswordStage>("pw", "a new pk", |o| {
            is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_ref()) != Some(&old)
        })
        .await;
    let new = new.status.and_then(|s| s.pk).expect("a pk");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let remote = c.stage(&id_pk).expect("the identification stage");
        let id = env
            .api::<IdentificationStage>()
            .get("id")
            .await
            .expect("id");
        let resolved = id
            .status
            .as_ref()
            .and_then(|s| s.resolved_references.get("passwordStage").cloned());
        if remote["password_stage"] == new.as_str() && resolved.as_deref() == Some(&new) {
            assert!(is_ready(&id), "{:?}", id.status);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "authentik has {}, the status {resolved:?}, the new pk is {new}: {:?}",
            remote["password_stage"],
            id.status
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    env.stop_operator().await;
}

/// A referrer waiting for its target's pk is woken once the cache it reads the pk from
/// has it, not before: woken earlier (by a watch of its own, as it once was), it found no
/// pk yet and waited out a backoff grown long by then. Only the cache lags here, and the
/// referrer has waited long enough for its next retry to be far off.
#[tokio::test]
async fn a_waiting_referrer_is_woken_once_the_cache_has_the_pk() {
    let mut env = Env::new(Profile::Current).await;
    env.extra_args = ["--backoff-max", "5m"].map(String::from).to_vec();
    let lagging = lagging_watch::cache_only(
        common::kube_config().await,
        "passwordstages",
        Duration::from_secs(3),
    );
    env.start_operator_as(lagging).await;
    env.create::<IdentificationStage>(referrer_of("waiting", "later"))
        .await;
    env.wait_synced::<IdentificationStage>("waiting", "ReferenceNotReady")
        .await;
    // Retries at 1, 2, 4, 8, 16 s (halved at worst): the next is at least 16 s off.
    tokio::time::sleep(Duration::from_secs(24)).await;
    env.create::<PasswordStage>(password_stage("later")).await;
    env.wait_for::<PasswordStage>("later", "Ready", is_ready)
        .await;
    let ready_at = std::time::Instant::now();
    env.wait_for::<IdentificationStage>("waiting", "Ready", is_ready)
        .await;
    // The cache has the pk one lagged event (3 s) after the API server.
    assert!(
        ready_at.elapsed() < Duration::from_secs(8),
        "woken by the cache, not by a retry: {:?}",
        ready_at.elapsed()
    );
    env.stop_operator().await;
}
