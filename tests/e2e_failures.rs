//! authentik failing, down or refusing the token; the operator restarted at any moment.
//! Conditions say what is wrong, nothing is duplicated, everything converges.

mod common;

use authentik_operator::kinds::{PasswordStage, UserLoginStage};
use authentik_sim::{Fault, Profile};
use common::{Env, TOKEN, is_ready, reason};
use serde_json::json;
use std::time::Duration;

fn login(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "UserLoginStage",
        "metadata": {"name": name},
        "spec": {"sessionDuration": "hours=1"}
    })
}

#[tokio::test]
async fn server_errors_then_recovery() {
    let env = Env::new(Profile::Current).await;
    env.sim.control().inject_fault(Fault {
        route_prefix: "stages/".into(),
        method: None,
        status: 503,
        retry_after: Some(1),
        times: None,
        rate: 1.0,
    });
    let mut env = env;
    env.start_operator().await;
    env.create::<UserLoginStage>(login("flaky")).await;
    let msg = env
        .wait_synced::<UserLoginStage>("flaky", "AuthentikServerError")
        .await;
    assert!(msg.contains("503"), "{msg}");
    env.wait_event("flaky", "AuthentikServerError").await;
    env.sim.control().clear_faults();
    env.wait_for::<UserLoginStage>("flaky", "Ready", is_ready)
        .await;
    assert_eq!(env.sim_stages_named("user_login", "flaky").len(), 1);
}

#[tokio::test]
async fn authentik_down_for_a_while() {
    let env = Env::started(Profile::V2024_4).await;
    env.create::<UserLoginStage>(login("before")).await;
    env.wait_for::<UserLoginStage>("before", "Ready", is_ready)
        .await;
    env.sim.control().set_down(true);
    env.create::<UserLoginStage>(login("during")).await;
    let obj = env
        .wait_for::<UserLoginStage>("during", "unreachable", |o| {
            reason(o, "Synced").as_deref() == Some("AuthentikUnreachable")
        })
        .await;
    assert!(!obj.status.unwrap().is_ready());
    // A delete while authentik is down keeps the finalizer until it is back.
    env.delete::<UserLoginStage>("before").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = env
        .api::<UserLoginStage>()
        .get_opt("before")
        .await
        .expect("get");
    assert!(
        held.is_some(),
        "the finalizer holds the resource while authentik is down"
    );
    env.sim.control().set_down(false);
    env.wait_for::<UserLoginStage>("during", "Ready", is_ready)
        .await;
    env.wait_gone::<UserLoginStage>("before").await;
    assert_eq!(env.sim_stages_named("user_login", "during").len(), 1);
    assert!(env.sim_stages_named("user_login", "before").is_empty());
}

#[tokio::test]
async fn a_rejected_token_says_so_without_showing_it() {
    let mut env = Env::new(Profile::Current).await;
    env.operator_token = "not-the-token".into();
    env.start_operator().await;
    env.create::<PasswordStage>(json!({
        "apiVersion": "authentik-operator.io/v1alpha1", "kind": "PasswordStage",
        "metadata": {"name": "denied"},
        "spec": {"backends": ["authentik.core.auth.InbuiltBackend"]}
    }))
    .await;
    let obj = env
        .wait_for::<PasswordStage>("denied", "forbidden", |o| {
            reason(o, "Synced").as_deref() == Some("AuthentikForbidden")
        })
        .await;
    let status = serde_json::to_string(&obj.status).unwrap();
    assert!(
        status.contains("Token invalid/expired"),
        "authentik's own words: {status}"
    );
    assert!(!status.contains("not-the-token") && !status.contains(TOKEN));
    let out = env.kubectl(&["describe", "passwordstage", "denied"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("AuthentikForbidden"), "{text}");
    assert!(!text.contains("not-the-token"));
}

#[tokio::test]
async fn restarts_at_any_moment_create_no_duplicates() {
    let mut env = Env::new(Profile::Current).await;
    // Slow answers widen the window between a create and the status write.
    env.sim.control().set_latency(Duration::from_millis(150));
    let names: Vec<String> = (0..6).map(|i| format!("restart-{i}")).collect();
    for n in &names {
        env.create::<UserLoginStage>(login(n)).await;
    }
    for round in 0..6u64 {
        env.start_operator().await;
        tokio::time::sleep(Duration::from_millis(300 + round * 170)).await;
        env.kill_operator();
    }
    env.sim.control().set_latency(Duration::ZERO);
    env.start_operator().await;
    for n in &names {
        env.wait_for::<UserLoginStage>(n, "Ready", is_ready).await;
        assert_eq!(
            env.sim_stages_named("user_login", n).len(),
            1,
            "{n} exists exactly once"
        );
    }
    env.stop_operator().await;
}
