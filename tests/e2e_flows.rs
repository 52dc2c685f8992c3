//! A whole login flow as Kubernetes objects: the `Flow`, its stages and the
//! `FlowStageBinding`s that order them, against the real kube-apiserver and the simulator.

mod common;

use authentik_operator::crd::kind::Kind;
use authentik_operator::kinds::{
    Flow, FlowStageBinding, IdentificationStage, PasswordStage, UserLoginStage,
};
use authentik_sim::Profile;
use common::{Env, is_ready, reason};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../deploy/examples/login-flow.yaml");
const BINDINGS: [&str; 3] = [
    "example-login-10-identification",
    "example-login-20-password",
    "example-login-100-session",
];

/// Applies the example with its documents in reverse order: bindings before the flow and
/// stages they name.
async fn apply_reversed(env: &Env) {
    let mut docs: Vec<&str> = EXAMPLE.split("\n---\n").collect();
    docs.reverse();
    let out = env.kubectl(&["apply", "-f", "-"], Some(&docs.join("\n---\n")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.wait_for::<Flow>("example-login", "Ready", is_ready)
        .await;
    for b in BINDINGS {
        env.wait_for::<FlowStageBinding>(b, "Ready", is_ready).await;
    }
}

fn pk_of<K: Kind>(obj: &K) -> String {
    obj.status().and_then(|s| s.pk.clone()).expect("a pk")
}

/// (stage name, order) of the flow's bindings in authentik, in order.
fn steps(env: &Env, slug: &str) -> Vec<(String, i64)> {
    env.sim
        .control()
        .bindings(slug)
        .iter()
        .map(|b| {
            (
                b["stage_obj"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                b["order"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

fn binding_pks(env: &Env, slug: &str) -> Vec<String> {
    let mut pks: Vec<String> = env
        .sim
        .control()
        .bindings(slug)
        .iter()
        .map(|b| b["pk"].as_str().unwrap_or_default().to_string())
        .collect();
    pks.sort();
    pks
}

async fn merge<K: Kind>(env: &Env, name: &str, patch: Value) {
    env.api::<K>()
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patch");
}

/// Waits until the resource is Ready for its current generation.
async fn wait_current<K: Kind>(env: &Env, name: &str) -> K {
    env.wait_for::<K>(name, "Ready for its generation", |o| {
        is_ready(o) && o.status().and_then(|s| s.observed_generation) == o.meta().generation
    })
    .await
}

#[tokio::test]
async fn a_whole_login_flow_in_one_apply_in_any_order() {
    let env = Env::started(Profile::Current).await;
    apply_reversed(&env).await;
    let flow = env.sim.control().flows();
    let flow = flow
        .iter()
        .find(|f| f["slug"] == "example-login")
        .expect("the flow in authentik");
    assert_eq!(flow["designation"], "authentication");
    assert_eq!(flow["title"], "Welcome");
    assert_eq!(
        steps(&env, "example-login"),
        [
            ("example-login-identification".to_string(), 10),
            ("example-login-password".to_string(), 20),
            ("example-login-session".to_string(), 100),
        ]
    );
    // One create per object, none refused: the bindings waited for the pks they need.
    let posts = |route: &str| {
        env.sim_writes()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with(route))
            .map(|r| r.status)
            .collect::<Vec<_>>()
    };
    assert_eq!(posts("/flows/bindings/"), [201, 201, 201]);
    assert_eq!(posts("/flows/instances/"), [201]);
    // Each stage says which flows it is bound to, also by a binding nobody manages here.
    let session = env
        .wait_for::<UserLoginStage>("login-session", "bound", |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.bound_to == ["example-login"])
        })
        .await;
    let default_flow = env.sim.control().flows();
    let default_flow = default_flow
        .iter()
        .find(|f| f["slug"] == "default-authentication-flow")
        .and_then(|f| f["pk"].as_str())
        .and_then(|pk| pk.parse().ok())
        .expect("the default flow");
    let stage = pk_of(&session).parse().expect("a uuid");
    env.sim
        .control()
        .bind_stage(default_flow, stage, 50)
        .expect("bound in authentik's UI");
    env.wait_for::<UserLoginStage>("login-session", "bound to the default flow too", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.bound_to
                .contains(&"default-authentication-flow".to_string())
                && s.bound_to.contains(&"example-login".to_string())
        })
    })
    .await;
    // What `kubectl get` shows for bindings.
    let out = env.kubectl(&["get", "flowstagebindings"], None);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("FLOW") && table.contains("ORDER"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("example-login-20-password")
                && l.contains("login-password")
                && l.contains(" 20 ")),
        "{table}"
    );
}

#[tokio::test]
async fn reordering_and_replacing_stages_patch_the_same_bindings() {
    let env = Env::started(Profile::Current).await;
    apply_reversed(&env).await;
    let before = binding_pks(&env, "example-login");
    // The password first, then who you are: a PATCH of order.
    merge::<FlowStageBinding>(
        &env,
        "example-login-20-password",
        json!({"spec": {"order": 5}}),
    )
    .await;
    wait_current::<FlowStageBinding>(&env, "example-login-20-password").await;
    // Another session stage in place of the first: a PATCH of stage.
    env.create::<UserLoginStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
        "metadata": {"name": "short-session"},
        "spec": {"name": "example-short-session", "sessionDuration": "minutes=30"}
    }))
    .await;
    merge::<FlowStageBinding>(
        &env,
        "example-login-100-session",
        json!({"spec": {"stage": {"ref": {"kind": "UserLoginStage", "name": "short-session"}}}}),
    )
    .await;
    let replaced = wait_current::<FlowStageBinding>(&env, "example-login-100-session").await;
    assert_eq!(
        steps(&env, "example-login"),
        [
            ("example-login-password".to_string(), 5),
            ("example-login-identification".to_string(), 10),
            ("example-short-session".to_string(), 100),
        ]
    );
    assert_eq!(
        binding_pks(&env, "example-login"),
        before,
        "the same bindings, patched"
    );
    let patched: Vec<String> = env
        .sim_writes()
        .iter()
        .filter(|r| r.path.contains("/flows/bindings/"))
        .filter(|r| r.method != "POST")
        .map(|r| format!("{} {}", r.method, r.status))
        .collect();
    assert_eq!(
        patched,
        ["PATCH 200", "PATCH 200"],
        "no delete, no recreate"
    );
    env.wait_event("example-login-100-session", "Updated").await;
    assert_eq!(
        replaced
            .status
            .and_then(|s| s.resolved_references.get("stage").cloned()),
        Some(pk_of(
            &env.wait_for::<UserLoginStage>("short-session", "Ready", is_ready)
                .await
        ))
    );
}

#[tokio::test]
async fn adopting_the_default_authentication_flow_and_its_bindings_writes_nothing() {
    let env = Env::started(Profile::V2024_4).await;
    env.sim.control().clear_requests();
    env.create::<Flow>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
        "metadata": {"name": "default-login"},
        "spec": {
            "slug": "default-authentication-flow", "adoptionPolicy": "IfMatch",
            "name": "Welcome to authentik!", "title": "Welcome to authentik!",
            "designation": "authentication"
        }
    }))
    .await;
    let flow = env
        .wait_for::<Flow>("default-login", "Ready", is_ready)
        .await;
    let default_steps = steps(&env, "default-authentication-flow");
    let (first, order) = default_steps.first().cloned().expect("a seeded binding");
    env.create::<FlowStageBinding>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "FlowStageBinding",
        "metadata": {"name": "default-login-first"},
        "spec": {
            "adoptionPolicy": "IfMatch",
            "flow": {"ref": "default-login"}, "stage": {"name": first}, "order": order
        }
    }))
    .await;
    env.wait_for::<FlowStageBinding>("default-login-first", "Ready", is_ready)
        .await;
    env.wait_event("default-login", "Adopted").await;
    env.wait_event("default-login-first", "Adopted").await;
    assert!(env.sim_writes().is_empty(), "{:?}", env.sim_writes());
    assert_eq!(
        flow.status.and_then(|s| s.name).as_deref(),
        Some("default-authentication-flow")
    );
    assert_eq!(steps(&env, "default-authentication-flow"), default_steps);
}

#[tokio::test]
async fn a_stage_deleted_in_authentik_is_recreated_and_bound_again() {
    let env = Env::started(Profile::Current).await;
    apply_reversed(&env).await;
    let old = pk_of(
        &env.wait_for::<PasswordStage>("login-password", "Ready", is_ready)
            .await,
    );
    let old_binding = pk_of(
        &env.wait_for::<FlowStageBinding>("example-login-20-password", "Ready", is_ready)
            .await,
    );
    // An admin deletes the stage in authentik: its binding goes with it (CASCADE), and the
    // identification stage's password_stage is cleared (SET NULL).
    assert!(env.sim.control().delete_stage(&old));
    assert_eq!(steps(&env, "example-login").len(), 2);
    let stage = env
        .wait_for::<PasswordStage>("login-password", "recreated", |o| {
            is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(old.as_str())
        })
        .await;
    let new = pk_of(&stage);
    let binding = env
        .wait_for::<FlowStageBinding>("example-login-20-password", "bound again", |o| {
            is_ready(o)
                && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(old_binding.as_str())
        })
        .await;
    let bound = env
        .sim
        .control()
        .binding(pk_of(&binding))
        .expect("in authentik");
    assert_eq!(bound["stage"], new.as_str());
    assert_eq!(
        steps(&env, "example-login"),
        [
            ("example-login-identification".to_string(), 10),
            ("example-login-password".to_string(), 20),
            ("example-login-session".to_string(), 100),
        ]
    );
    env.wait_for::<IdentificationStage>("login-identification", "its reference put back", |o| {
        let id = o.status.as_ref().and_then(|s| s.pk.clone());
        id.and_then(|pk| env.sim.control().stage(pk))
            .is_some_and(|s| s["password_stage"] == new.as_str())
    })
    .await;
}

#[tokio::test]
async fn deleting_a_bound_stage_or_a_targeted_flow_waits_for_the_bindings() {
    let env = Env::started(Profile::Current).await;
    apply_reversed(&env).await;
    env.delete::<PasswordStage>("login-password").await;
    let msg = env
        .wait_synced::<PasswordStage>("login-password", "DeleteBlocked")
        .await;
    assert!(
        msg.contains("FlowStageBinding/example-login-20-password")
            && msg.contains("IdentificationStage/login-identification"),
        "{msg}"
    );
    env.delete::<Flow>("example-login").await;
    let msg = env
        .wait_synced::<Flow>("example-login", "DeleteBlocked")
        .await;
    for b in BINDINGS {
        assert!(msg.contains(&format!("FlowStageBinding/{b}")), "{msg}");
    }
    // Nothing deleted in authentik while blocked.
    assert_eq!(steps(&env, "example-login").len(), 3);
    for b in BINDINGS {
        env.delete::<FlowStageBinding>(b).await;
    }
    env.wait_gone::<Flow>("example-login").await;
    assert!(
        !env.sim
            .control()
            .flows()
            .iter()
            .any(|f| f["slug"] == "example-login"),
        "the flow deleted in authentik once nothing binds to it"
    );
    // The password stage still waits: the identification stage refers to it.
    assert_eq!(
        reason(
            &env.wait_for::<PasswordStage>("login-password", "blocked", |o| reason(o, "Synced")
                .is_some())
                .await,
            "Synced"
        )
        .as_deref(),
        Some("DeleteBlocked")
    );
}

#[tokio::test]
async fn a_designation_changes_only_when_the_resource_allows_it() {
    let env = Env::started(Profile::Current).await;
    env.create::<Flow>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
        "metadata": {"name": "recovery"},
        "spec": {"name": "Recovery", "title": "Recover", "designation": "recovery"}
    }))
    .await;
    env.wait_for::<Flow>("recovery", "Ready", is_ready).await;
    merge::<Flow>(
        &env,
        "recovery",
        json!({"spec": {"designation": "enrollment"}}),
    )
    .await;
    let msg = env.wait_synced::<Flow>("recovery", "ChangeRefused").await;
    assert!(
        msg.contains("designation") && msg.contains("allow-guarded-changes"),
        "{msg}"
    );
    let designation = || {
        env.sim
            .control()
            .flows()
            .into_iter()
            .find(|f| f["slug"] == "recovery")
            .map(|f| f["designation"].clone())
    };
    assert_eq!(
        designation(),
        Some(json!("recovery")),
        "authentik untouched"
    );
    merge::<Flow>(
        &env,
        "recovery",
        json!({"metadata": {"annotations": {"authentik-operator.io/allow-guarded-changes": "true"}}}),
    )
    .await;
    wait_current::<Flow>(&env, "recovery").await;
    assert_eq!(designation(), Some(json!("enrollment")));
}

#[tokio::test]
async fn a_binding_deleted_in_authentik_is_bound_again() {
    let env = Env::started(Profile::V2023_10).await;
    apply_reversed(&env).await;
    let old = pk_of(
        &env.wait_for::<FlowStageBinding>("example-login-20-password", "Ready", is_ready)
            .await,
    );
    assert!(env.sim.control().delete_binding(&old));
    env.wait_for::<FlowStageBinding>("example-login-20-password", "bound again", |o| {
        is_ready(o) && o.status.as_ref().and_then(|s| s.pk.as_deref()) != Some(old.as_str())
    })
    .await;
    env.wait_event("example-login-20-password", "Recreated")
        .await;
    assert_eq!(
        steps(&env, "example-login"),
        [
            ("example-login-identification".to_string(), 10),
            ("example-login-password".to_string(), 20),
            ("example-login-session".to_string(), 100),
        ]
    );
}

/// The newest releases accept a slug longer than 50 characters (2026.2.2's flows transcript,
/// step 10), so the CRD does; an older release refuses it with its own 400, shown in the
/// resource's condition.
#[tokio::test]
async fn a_slug_only_older_releases_refuse_is_their_400_not_the_crds() {
    let slug = format!("a-slug-of-fifty-one-characters-{}", "x".repeat(20));
    assert_eq!(slug.len(), 51);
    let flow = json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
        "metadata": {"name": "long"},
        "spec": {"slug": slug, "name": "Long", "title": "Long", "designation": "authentication"}
    });
    let current = Env::started(Profile::Current).await;
    let applied = current.kubectl(&["apply", "-f", "-"], Some(&flow.to_string()));
    assert!(
        applied.status.success(),
        "the API server accepts it: {}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let ready = current.wait_for::<Flow>("long", "Ready", is_ready).await;
    assert_eq!(
        ready.status.and_then(|s| s.name).as_deref(),
        Some(slug.as_str())
    );
    assert!(current.sim.control().flow(&slug).is_some());
    drop(current);

    let older = Env::started(Profile::V2024_4).await;
    older.create::<Flow>(flow).await;
    let msg = older.wait_synced::<Flow>("long", "AuthentikRejected").await;
    assert!(
        msg.contains("Ensure this field has no more than 50 characters."),
        "{msg}"
    );
    assert!(older.sim.control().flow(&slug).is_none());
}

/// Found by the chaos soak: a binding whose create's answer was lost (made in authentik, its
/// pk never known: the resource holds only its key, `<flow pk>/<stage pk>/<order>`), whose
/// flow is then deleted in authentik (the binding with it) and made again with a new pk.
/// Deleting the resource looks for the binding by that key, and authentik refuses even to
/// filter by a flow that does not exist ("Select a valid choice"): no binding can hold the
/// key, so the finalizer goes, where it used to wait forever.
#[tokio::test]
async fn a_binding_known_only_by_a_key_whose_flow_is_gone_deletes_at_once() {
    use authentik_sim::LostAnswer;
    let env = Env::started(Profile::Current).await;
    let control = env.sim.control();
    env.create::<Flow>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "Flow",
        "metadata": {"name": "lost"},
        "spec": {"slug": "lost", "name": "Lost", "title": "Lost", "designation": "authentication"}
    }))
    .await;
    env.wait_for::<Flow>("lost", "Ready", is_ready).await;
    // Every answer about bindings is lost from now on: the create is made, and nothing the
    // operator asks afterwards is answered.
    control.lose_answers(LostAnswer {
        route_prefix: "flows/bindings/".into(),
        method: None,
        times: None,
        rate: 1.0,
    });
    env.create::<FlowStageBinding>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "FlowStageBinding",
        "metadata": {"name": "lost-10"},
        "spec": {"flow": {"ref": "lost"}, "stage": {"name": "default-authentication-password"}, "order": 10}
    }))
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while control.bindings("lost").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the binding was never made"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let binding = env
        .api::<FlowStageBinding>()
        .get("lost-10")
        .await
        .expect("get");
    assert!(
        binding.status.and_then(|s| s.pk).is_none(),
        "its pk was never answered"
    );
    // The flow deleted in authentik (its binding with it) and made again by its resource.
    assert!(control.delete_flow("lost"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while control.flow("lost").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the flow was never made again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    env.delete::<FlowStageBinding>("lost-10").await;
    control.clear_lost_answers();
    env.wait_gone::<FlowStageBinding>("lost-10").await;
}
